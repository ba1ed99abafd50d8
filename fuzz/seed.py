#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, from spec/vectors: the golden proofs (whole CARs, their
envelope and witness blocks) and the tree vectors' node blocks. Writes fuzz/corpus/<target>/."""
import glob, hashlib, json, os

here = os.path.dirname(os.path.abspath(__file__))
vectors = os.path.join(here, "..", "spec", "vectors")


def varint(buf, pos):
    value, shift = 0, 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, pos


def car_blocks(buf):
    """The blocks of a CARv1 (header skipped), each without its CID."""
    length, pos = varint(buf, 0)
    pos += length
    blocks = []
    while pos < len(buf):
        length, pos = varint(buf, pos)
        section = buf[pos : pos + length]
        pos += length
        cid_len = 36 + 2 if section[0] == 1 else 34  # CIDv1 blake2b-256: 1+1+3+1+32 = 38 bytes
        blocks.append(section[cid_len:])
    return blocks


def write(target, data):
    folder = os.path.join(here, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


proofs = json.load(open(os.path.join(vectors, "proofs.json")))["proofs"]
for i, proof in enumerate(proofs):
    car = open(os.path.join(vectors, proof["file"]), "rb").read()
    write("car_strict", car)
    write("verify", bytes([i]) + car)
    for block in car_blocks(car):
        write("dag_cbor", block)
        write("node_decode", block)
for path in glob.glob(os.path.join(vectors, "tree-*.json")):
    for node in [n for n in json.load(open(path)).get("nodes", []) if "bytes" in n]:
        data = bytes.fromhex(node["bytes"])
        write("node_decode", data)
        write("dag_cbor", data)
for target in ["node_decode", "dag_cbor", "car_strict", "verify"]:
    print(target, len(os.listdir(os.path.join(here, "corpus", target))), "seeds")
