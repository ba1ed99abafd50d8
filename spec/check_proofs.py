#!/usr/bin/env python3
"""Reads every golden proof (spec/vectors/proof-*.car) with PyPI libipld, an independent CAR and
DAG-CBOR implementation, and checks what SPEC.md promises: one root, the envelope, first; the other
blocks in ascending CID order, each once; every block hashes to its CID; the envelope names the
database root and carries the query and result bytes that proofs.json describes."""

import base64
import hashlib
import json
import pathlib
import sys

import libipld

VECTORS = pathlib.Path(__file__).parent / "vectors"


def cid_digest(cid_bytes):
    # CIDv1: version 1, codec (DAG-CBOR 0x71 or raw 0x55), multihash blake2b-256 (0xb220 varint, 32).
    assert cid_bytes[0] == 0x01, "CIDv1"
    assert cid_bytes[1] in (0x71, 0x55), "DAG-CBOR or raw"
    assert cid_bytes[2:5] == bytes([0xA0, 0xE4, 0x02]) and cid_bytes[5] == 32, "blake2b-256"
    return cid_bytes[6:]


def cid_from_string(text):
    # Multibase 'b': lowercase RFC 4648 base32 without padding.
    assert text[0] == "b"
    body = text[1:].upper()
    return base64.b32decode(body + "=" * (-len(body) % 8))


def main():
    index = json.loads((VECTORS / "proofs.json").read_text())
    for entry in index["proofs"]:
        data = (VECTORS / entry["file"]).read_bytes()
        header, blocks = libipld.decode_car(data)
        assert header["version"] == 1 and len(header["roots"]) == 1, entry["file"]
        root = header["roots"][0]
        # libipld returns the blocks as a dict keyed by CID string; file order is checked by hand.
        order = []
        pos = 0

        def varint():
            nonlocal pos
            value, shift = 0, 0
            while True:
                b = data[pos]
                pos += 1
                value |= (b & 0x7F) << shift
                shift += 7
                if b < 0x80:
                    return value

        header_length = varint()
        pos += header_length
        while pos < len(data):
            length = varint()
            section = data[pos : pos + length]
            pos += length
            cid_bytes = section[:38]
            assert hashlib.blake2b(section[38:], digest_size=32).digest() == cid_digest(cid_bytes)
            order.append(cid_bytes)
        assert pos == len(data), "no trailing bytes"
        assert len(order) == len(blocks) == entry["witness_blocks"] + 1, entry["file"]
        rest = order[1:]
        assert rest == sorted(rest) and len(set(rest)) == len(rest), "ascending, no duplicates"
        # libipld gives CIDs as their binary form.
        assert root == order[0], "the header's root is the first block"
        envelope = blocks[root]
        assert envelope["v"] == 1 and envelope["kind"] == "query"
        assert envelope["root"] == cid_from_string(entry["root"]), entry["file"]
        query = libipld.decode_dag_cbor(envelope["query"])
        assert query["collection"] == entry["query"]["collection"]
        result = libipld.decode_dag_cbor(envelope["result"])
        assert result["v"] == 1
        print(f"ok   {entry['file']} ({len(order)} blocks)")


if __name__ == "__main__":
    sys.exit(main())
