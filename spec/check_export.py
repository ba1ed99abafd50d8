"""Reads a CAR that `prolly export` wrote with an independent reader (PyPI libipld) and checks
it: one root, the one expected; every section's bytes hash (blake2b-256) to its CID; every block
decodes as DAG-CBOR; as many blocks as expected.

python spec/check_export.py DB.car ROOT_CID BLOCKS
"""

import base64
import hashlib
import sys

import libipld


def cid_bytes(text):
    assert text[0] == "b", text  # multibase base32, lowercase, no padding
    body = text[1:].upper()
    return base64.b32decode(body + "=" * (-len(body) % 8))


def varint(data, pos):
    value, shift = 0, 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, pos


def main():
    path, root, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
    data = open(path, "rb").read()
    header, blocks = libipld.decode_car(data)
    assert header["version"] == 1, header
    assert [bytes(r) for r in header["roots"]] == [cid_bytes(root)], (header["roots"], root)
    assert len(blocks) == expected, (len(blocks), expected)
    # Each section: varint length, CIDv1 (version, codec, multihash code, length, digest), data.
    head_len, pos = varint(data, 0)
    pos += head_len
    sections = 0
    while pos < len(data):
        length, pos = varint(data, pos)
        section = data[pos : pos + length]
        pos += length
        version, p = varint(section, 0)
        codec, p = varint(section, p)
        code, p = varint(section, p)
        size, p = varint(section, p)
        digest, body = section[p : p + size], section[p + size :]
        assert (version, codec, code, size) == (1, 0x71, 0xB220, 32), (version, codec, code, size)
        assert hashlib.blake2b(body, digest_size=32).digest() == digest, "a block does not hash to its CID"
        libipld.decode_dag_cbor(body)
        sections += 1
    assert sections == expected
    print(f"{path}: {sections} blocks, root {root}: read and checked by libipld")


if __name__ == "__main__":
    main()
