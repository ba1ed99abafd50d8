#!/usr/bin/env python3
"""An independent implementation of spec/SPEC.md, written from the spec alone.

It rebuilds every tree in spec/vectors/ from its entries and checks the root object, every node's
bytes and every CID against the vector. Nothing here comes from the Rust code: the boundary hash is
the `xxhash` package's XXH3-64, blake2b is Python's hashlib, CBOR is written by hand below.

Every block and value the vectors spell out must also be accepted by `libipld`'s DAG-CBOR
decoder (an independent codec). A byte-for-byte round trip through libipld is not checked: its
Python mapping turns byte strings that happen to parse as CIDs back into links.

Usage: python3 spec/check_vectors.py [vectors directory]   (needs: pip install xxhash libipld)
"""

import base64
import hashlib
import json
import sys
from pathlib import Path

import libipld
import xxhash

DAG_CBOR = 0x71
BLAKE2B_256 = 0xB220
LEVEL_STEP = 0x9E3779B97F4A7C15


# --- CBOR (section 1: shortest heads) -------------------------------------------------------

def head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for info, width in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * width):
            return bytes([major << 5 | info]) + n.to_bytes(width, "big")
    raise ValueError("argument too large")


def cbor_bytes(b):
    return head(2, len(b)) + b


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def cid_bytes(block):
    digest = hashlib.blake2b(block, digest_size=32).digest()
    return varint(1) + varint(DAG_CBOR) + varint(BLAKE2B_256) + varint(32) + digest


def cid_text(binary):
    return "b" + base64.b32encode(binary).decode().lower().rstrip("=")


def cbor_cid(binary):
    return b"\xd8\x2a" + cbor_bytes(b"\x00" + binary)


# --- Sizes (section 4) and the chunking rule (section 5) ------------------------------------

def node_size(level, n, payload):
    """The logical size: keys counted whole, an empty prefix."""
    columns = 2 if level == 0 else 3
    return 1 + len(head(0, level)) + 1 + columns * len(head(4, n)) + payload


def fires(config, level, key, before, size):
    target = config["leaf_target"] if level == 0 else config["internal_target"]
    seed = (config["salt"] + level * LEVEL_STEP) % (1 << 64)
    h = xxhash.xxh3_64_intdigest(key, seed=seed)
    return h * target ** 3 < ((before + size) ** 3 - before ** 3) << 64


def chunk(config, level, entries):
    """entries: list of (key, encoded-entry-size, item); returns the list of nodes (lists)."""
    cap = config["leaf_cap"] if level == 0 else config["internal_cap"]
    nodes, node, payload = [], [], 0
    for key, size, item in entries:
        if node and node_size(level, len(node) + 1, payload + size) > cap:
            nodes.append(node)
            node, payload = [], 0
        fire = len(node) + 1 >= config["min_entries"] and fires(config, level, key, payload, size)
        node.append((key, size, item))
        payload += size
        if fire:
            nodes.append(node)
            node, payload = [], 0
    if node:
        nodes.append(node)
    return nodes


# --- Nodes (section 3) and building (section 6) ---------------------------------------------

def common_prefix(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def prefix_and_suffixes(node):
    """The longest prefix the node's keys share (the whole key of a single entry), and the rest."""
    keys = [k for k, _, _ in node]
    p = common_prefix(keys[0], keys[-1]) if keys else 0
    prefix = keys[0][:p] if keys else b""
    return cbor_bytes(prefix) + head(4, len(keys)) + b"".join(cbor_bytes(k[p:]) for k in keys)


def encode_leaf(node):
    values = b"".join(v for _, _, v in node)
    return head(4, 4) + head(0, 0) + prefix_and_suffixes(node) + head(4, len(node)) + values


def encode_internal(level, node):
    n = len(node)
    links = b"".join(cbor_cid(cid) for _, _, (cid, _) in node)
    counts = b"".join(head(0, count) for _, _, (_, count) in node)
    return (head(4, 5) + head(0, level) + prefix_and_suffixes(node) + head(4, n) + links
            + head(4, n) + counts)


def separator(last, following):
    """A leaf's key in its parent: next's first j + 1 bytes (j: the common prefix) when that is a
    proper prefix of next and last is not a prefix of next; otherwise last."""
    j = common_prefix(last, following)
    if j < len(last) and j + 1 < len(following):
        return following[:j + 1]
    return last


def build(config, entries):
    """Returns (root node CID, {cid: bytes}, count)."""
    blocks = {}
    level = 0
    items = [(k, len(cbor_bytes(k)) + len(v), v) for k, v in entries]
    if not items:
        block = head(4, 4) + head(0, 0) + cbor_bytes(b"") + head(4, 0) + head(4, 0)
        cid = cid_bytes(block)
        blocks[cid] = block
        return cid, blocks, 0
    while True:
        nodes = chunk(config, level, items)
        summaries = []
        for i, node in enumerate(nodes):
            block = encode_leaf(node) if level == 0 else encode_internal(level, node)
            cid = cid_bytes(block)
            blocks[cid] = block
            count = len(node) if level == 0 else sum(c for _, _, (_, c) in node)
            key = node[-1][0]
            if level == 0 and i + 1 < len(nodes):
                key = separator(key, nodes[i + 1][0][0])
            size = len(cbor_bytes(key)) + len(cbor_cid(cid)) + len(head(0, count))
            summaries.append((key, size, (cid, count)))
        if len(nodes) == 1:
            return summaries[0][2][0], blocks, summaries[0][2][1]
        items = summaries
        level += 1


def root_object(config, node_cid, count):
    c = config
    fields = [c["leaf_target"], c["leaf_cap"], c["internal_target"], c["internal_cap"],
              c["min_entries"], c["salt"]]
    config_bytes = head(4, 6) + b"".join(head(0, f) for f in fields)
    # meta: null (no application block in the vectors).
    return (head(4, 5) + head(0, 2) + config_bytes + cbor_cid(node_cid) + head(0, count)
            + b"\xf6")


def check(path):
    vector = json.loads(path.read_text())
    config = vector["config"]
    entries = [(bytes.fromhex(k), bytes.fromhex(v)) for k, v in vector["entries"]]
    node_cid, blocks, count = build(config, entries)
    root = root_object(config, node_cid, count)
    problems = []
    if cid_text(cid_bytes(root)) != vector["root"]:
        problems.append("root CID")
    if root.hex() != vector["root_object"]:
        problems.append("root object bytes")
    if cid_text(node_cid) != vector["root_node"]:
        problems.append("root node CID")
    by_text = {cid_text(c): b for c, b in blocks.items()}
    for node in vector["nodes"]:
        block = by_text.get(node["cid"])
        if block is None:
            problems.append(f"node {node['cid']} not built")
        elif "bytes" in node and block.hex() != node["bytes"]:
            problems.append(f"node {node['cid']} bytes")
        elif "size" in node and len(block) != node["size"]:
            problems.append(f"node {node['cid']} size")
    if len(vector["nodes"]) != len(by_text):
        problems.append(f"{len(by_text)} nodes built, vector lists {len(vector['nodes'])}")
    # An independent decoder accepts every spelled-out block and value.
    spelled = [bytes.fromhex(vector["root_object"])]
    spelled += [bytes.fromhex(n["bytes"]) for n in vector["nodes"] if "bytes" in n]
    spelled += [v for _, v in entries]
    for block in spelled:
        try:
            libipld.decode_dag_cbor(block)
        except Exception as e:  # noqa: BLE001 - any refusal is a finding
            problems.append(f"libipld refuses {block[:16].hex()}...: {e}")
    return problems


def main():
    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "vectors"
    failed = 0
    files = sorted(directory.glob("tree-*.json"))
    for path in files:
        problems = check(path)
        print(f"{'ok  ' if not problems else 'FAIL'} {path.name}" + ("" if not problems else f": {problems}"))
        failed += bool(problems)
    if not files:
        print("no vectors found")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
