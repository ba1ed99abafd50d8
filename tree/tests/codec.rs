//! The strict DAG-CBOR value codec: what it accepts round-trips byte for byte through an
//! independent decoder, and it agrees with the IPLD project's codec fixtures.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ipld_core::ipld::Ipld;
use prolly_tree::{Bytes, RawValue, Scalar};
use proptest::prelude::*;

fn ipld_value() -> impl Strategy<Value = Ipld> {
    let leaf = prop_oneof![
        Just(Ipld::Null),
        any::<bool>().prop_map(Ipld::Bool),
        any::<i64>().prop_map(|i| Ipld::Integer(i as i128)),
        any::<u64>().prop_map(|i| Ipld::Integer(i as i128)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Ipld::Float),
        ".{0,12}".prop_map(Ipld::String),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Ipld::Bytes),
        any::<[u8; 32]>().prop_map(|d| Ipld::Link(prolly_tree::cid_of(&d))),
        // Links that are not nodes': raw blocks under SHA-256, and digests of other lengths.
        (
            prop::sample::select(vec![0x55u64, 0x71]),
            prop::sample::select(vec![0x12u64, 0xb220]),
            prop::collection::vec(any::<u8>(), 1..40)
        )
            .prop_map(|(codec, code, digest)| Ipld::Link(cid::Cid::new_v1(
                codec,
                cid::multihash::Multihash::wrap(code, &digest).unwrap(),
            ))),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Ipld::List),
            prop::collection::btree_map(".{0,6}", inner, 0..6).prop_map(Ipld::Map),
        ]
    })
}

/// A valid encoding with a few edits: bytes flipped, replaced, inserted, removed, or the end cut.
/// Uniform random bytes die at the first byte; these reach the decoder's deeper checks (lengths,
/// map order, nesting, CIDs) with a slightly broken value.
fn mutated_encoding() -> impl Strategy<Value = Vec<u8>> {
    let edit = (any::<prop::sample::Index>(), any::<u8>(), 0..5u8);
    (ipld_value(), prop::collection::vec(edit, 0..4)).prop_map(|(v, edits)| {
        let mut bytes = RawValue::from_ipld(&v).unwrap().as_bytes().to_vec();
        for (at, byte, kind) in edits {
            let i = at.index(bytes.len() + 1);
            match kind {
                0 if i < bytes.len() => bytes[i] ^= 1 << (byte % 8),
                1 if i < bytes.len() => bytes[i] = byte,
                2 => bytes.insert(i, byte),
                3 if i < bytes.len() => {
                    bytes.remove(i);
                }
                _ => bytes.truncate(i),
            }
        }
        bytes
    })
}

proptest! {
    /// The hand-written encoder agrees byte for byte with serde_ipld_dagcbor's.
    #[test]
    fn the_encoder_agrees_with_serde(v in ipld_value()) {
        let raw = RawValue::from_ipld(&v).unwrap();
        let serde = fvm_ipld_encoding::to_vec(&v).unwrap();
        prop_assert_eq!(raw.as_bytes(), serde.as_slice());
        if let Ipld::Map(map) = &v {
            prop_assert_eq!(RawValue::from_map(map).unwrap(), raw);
        }
    }

    #[test]
    fn encoded_values_validate_and_round_trip(v in ipld_value()) {
        let raw = RawValue::from_ipld(&v).unwrap();
        prop_assert_eq!(raw.to_ipld().unwrap(), v);
        let again = RawValue::from_bytes(Bytes::copy_from_slice(raw.as_bytes())).unwrap();
        prop_assert_eq!(again, raw);
    }

    /// The hand-written decoder reads what the encoder wrote back into the same value.
    #[test]
    fn the_decoder_round_trips(v in ipld_value()) {
        let raw = RawValue::from_ipld(&v).unwrap();
        prop_assert_eq!(prolly_tree::decode_ipld(raw.as_bytes()).unwrap(), v);
    }

    /// The decoder accepts exactly what the validator accepts, and then agrees with serde's.
    #[test]
    fn the_decoder_accepts_what_the_validator_accepts(bytes in mutated_encoding()) {
        let decoded = prolly_tree::decode_ipld(&bytes);
        let validated = RawValue::from_bytes(Bytes::from(bytes.clone()));
        prop_assert_eq!(decoded.is_ok(), validated.is_ok());
        if let Ok(v) = decoded {
            let serde: Ipld = fvm_ipld_encoding::from_slice(&bytes).unwrap();
            prop_assert_eq!(v, serde);
        }
    }

    /// Whatever the validator accepts is canonical: an independent decoder reads it, and
    /// re-encoding gives the same bytes. So equal values always have equal bytes in a node.
    #[test]
    fn accepted_bytes_are_canonical(bytes in mutated_encoding()) {
        if let Ok(raw) = RawValue::from_bytes(Bytes::from(bytes.clone())) {
            let decoded: Ipld = fvm_ipld_encoding::from_slice(raw.as_bytes()).unwrap();
            prop_assert_eq!(fvm_ipld_encoding::to_vec(&decoded).unwrap(), bytes);
        }
    }
}

#[test]
fn non_canonical_and_non_dag_cbor_values_are_refused() {
    for (hex, why) in [
        ("1817", "integer not in shortest form"),
        ("f93c00", "16-bit float"),
        ("fa3fc00000", "32-bit float"),
        ("fb7ff8000000000000", "NaN"),
        ("9f01ff", "indefinite-length array"),
        ("a2616201616101", "map keys out of order"),
        ("a2616101616101", "duplicate map key"),
        ("a10101", "integer map key"),
        ("c11a514b67b0", "a tag other than 42"),
        ("d82a4401020304", "CID without the 0x00 prefix"),
        ("f7", "undefined"),
        ("62c328", "invalid UTF-8"),
        ("0102", "two values"),
        ("", "nothing"),
    ] {
        assert!(
            RawValue::from_bytes(Bytes::from(unhex(hex))).is_err(),
            "accepted {why}"
        );
        assert!(
            prolly_tree::decode_ipld(&unhex(hex)).is_err(),
            "decoded {why}"
        );
    }
    let deep = (0..100).fold(Ipld::Null, |v, _| Ipld::List(vec![v]));
    assert!(
        RawValue::from_ipld(&deep).is_err(),
        "accepted nesting of 100"
    );
    assert!(RawValue::from_ipld(&Ipld::Integer(1 << 64)).is_err());
    assert!(RawValue::from_ipld(&Ipld::Map(BTreeMap::new())).is_ok());
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("PROLLYDB_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    dir.join("ipld-codec-fixtures")
        .is_dir()
        .then_some(dir.join("ipld-codec-fixtures"))
}

#[test]
fn agrees_with_the_ipld_codec_fixtures() {
    let Some(dir) = data_dir() else {
        eprintln!(
            "SKIP agrees_with_the_ipld_codec_fixtures: no ipld-codec-fixtures under PROLLYDB_DATA or ../shared/data"
        );
        return;
    };
    let mut accepted = 0;
    for fixture in std::fs::read_dir(dir.join("fixtures")).unwrap() {
        let fixture = fixture.unwrap().path();
        if !fixture.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&fixture).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|e| e == "dag-cbor") {
                let bytes = std::fs::read(&file).unwrap();
                // The fixtures include integers beyond 64 bits only in DAG-JSON; every DAG-CBOR
                // fixture is a valid value.
                prolly_tree::decode_ipld(&bytes)
                    .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                RawValue::from_bytes(Bytes::from(bytes))
                    .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                accepted += 1;
            }
        }
    }
    assert!(accepted > 100, "only {accepted} fixtures");
    let negative = dir.join("negative-fixtures/dag-cbor/decode");
    for file in std::fs::read_dir(negative).unwrap() {
        let cases: Vec<serde_json::Value> =
            serde_json::from_slice(&std::fs::read(file.unwrap().path()).unwrap()).unwrap();
        for case in cases {
            let hex = case["hex"].as_str().unwrap();
            assert!(
                RawValue::from_bytes(Bytes::from(unhex(hex))).is_err(),
                "accepted negative fixture {}",
                case["name"]
            );
            assert!(
                prolly_tree::decode_ipld(&unhex(hex)).is_err(),
                "decoded negative fixture {}",
                case["name"]
            );
        }
    }
}

/// Found by the `dag_cbor` fuzz target: a CID whose multihash code is a 10-byte varint that the
/// CID parser accepted, so the same value had a second encoding. Both readers refuse it now.
#[test]
fn cids_with_overlong_varints_are_refused() {
    let crash = unhex(
        "d82a5827000171a0feffffffffffffff2a19b9931c00000000c862303031300000512791230d7308040605",
    );
    assert!(prolly_tree::decode_ipld(&crash).is_err());
    assert!(RawValue::from_bytes(Bytes::from(crash)).is_err());
    // The same CID shape with shortest varints (a sha2-256 raw CID) is accepted, and canonical.
    let cid = cid::Cid::new_v1(
        0x55,
        cid::multihash::Multihash::wrap(0x12, &[7; 32]).unwrap(),
    );
    let value = RawValue::from_ipld(&Ipld::Link(cid)).unwrap();
    assert_eq!(
        prolly_tree::decode_ipld(value.as_bytes()).unwrap(),
        Ipld::Link(cid)
    );
    // The codec 0x55 written as a two-byte varint: refused.
    let mut long = value.as_bytes().to_vec();
    let at = long.iter().position(|&b| b == 0x55).unwrap();
    long.splice(at..=at, [0xd5, 0x00]);
    long[3] += 1; // the byte string's length
    assert!(prolly_tree::decode_ipld(&long).is_err());
}

/// A node's shared prefix is decoded into every key: a block whose keys would outgrow 1 MiB is
/// refused before any of them is built (a 600 KB prefix over two entries here; over 65,536 it
/// would ask for 40 GB).
#[test]
fn a_prefix_that_would_blow_up_is_refused() {
    let mut block = vec![0x84, 0x00]; // a leaf
    let prefix = vec![b'p'; 600_000];
    block.extend_from_slice(&[0x5a]); // a byte string, 4-byte length
    block.extend_from_slice(&(prefix.len() as u32).to_be_bytes());
    block.extend_from_slice(&prefix);
    block.extend_from_slice(&[0x82, 0x41, b'a', 0x41, b'b', 0x82, 0xf6, 0xf6]);
    assert_eq!(
        prolly_tree::Node::decode(block).unwrap_err(),
        prolly_tree::DecodeError::KeysTooLarge
    );
}

fn scalar() -> impl Strategy<Value = Ipld> {
    prop_oneof![
        Just(Ipld::Null),
        any::<bool>().prop_map(Ipld::Bool),
        any::<i64>().prop_map(|i| Ipld::Integer(i as i128)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Ipld::Float),
        ".{0,12}".prop_map(Ipld::String),
    ]
}

fn as_scalar(value: &Ipld) -> Scalar<'_> {
    match value {
        Ipld::Null => Scalar::Null,
        Ipld::Bool(b) => Scalar::Bool(*b),
        Ipld::Integer(i) => Scalar::Integer(*i as i64),
        Ipld::Float(f) => Scalar::Float(*f),
        Ipld::String(s) => Scalar::Text(s),
        other => panic!("not a scalar: {other:?}"),
    }
}

proptest! {
    /// A map of scalars written as it comes is the map encoded from IPLD, byte for byte; keys out
    /// of DAG-CBOR's order (or repeated) are refused.
    #[test]
    fn a_scalar_map_is_the_map_encoded(map in prop::collection::btree_map(".{0,6}", scalar(), 0..12)) {
        let mut fields: Vec<(&str, Scalar)> =
            map.iter().map(|(k, v)| (k.as_str(), as_scalar(v))).collect();
        fields.sort_by(|(a, _), (b, _)| (a.len(), *a).cmp(&(b.len(), *b)));
        let written = RawValue::scalar_map(fields.clone().into_iter()).unwrap();
        prop_assert_eq!(&written, &RawValue::from_ipld(&Ipld::Map(map.clone())).unwrap());
        prop_assert_eq!(written.to_ipld().unwrap(), Ipld::Map(map.clone()));
        if fields.len() >= 2 {
            let mut swapped = fields.clone();
            swapped.swap(0, 1);
            prop_assert!(RawValue::scalar_map(swapped.into_iter()).is_err());
            let mut repeated = fields.clone();
            repeated[1].0 = repeated[0].0;
            prop_assert!(RawValue::scalar_map(repeated.into_iter()).is_err());
        }
    }
}

#[test]
fn a_scalar_map_refuses_what_dag_cbor_cannot_hold() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let refused = RawValue::scalar_map([("a", Scalar::Float(bad))].into_iter()).unwrap_err();
        assert!(refused.to_string().contains("NaN or infinite"), "{refused}");
    }
}

proptest! {
    /// A map given one more entry around its bytes is the map with the entry encoded from IPLD;
    /// a key it has already, or a value that is not a map, gives `None`. Keys of 0–4 characters
    /// from a small alphabet put the new key at every place in DAG-CBOR's order, and maps of 24
    /// entries or more take a longer head.
    #[test]
    fn a_map_given_an_entry_is_the_map_encoded_with_it(
        map in prop::collection::btree_map("[a-c_]{0,4}", ipld_value(), 0..30),
        key in "[a-c_]{0,4}",
        value in ipld_value(),
        not_a_map in ipld_value(),
    ) {
        let raw = RawValue::from_ipld(&Ipld::Map(map.clone())).unwrap();
        let encoded_value = RawValue::from_ipld(&value).unwrap();
        let given = raw.with_entry(&key, &encoded_value);
        if map.contains_key(&key) {
            prop_assert_eq!(given, None);
        } else {
            let mut with = map.clone();
            with.insert(key.clone(), value);
            prop_assert_eq!(given, Some(RawValue::from_ipld(&Ipld::Map(with)).unwrap()));
        }
        if !matches!(not_a_map, Ipld::Map(_)) {
            let raw = RawValue::from_ipld(&not_a_map).unwrap();
            prop_assert_eq!(raw.with_entry(&key, &encoded_value), None);
            prop_assert!(raw.map_entries().is_none());
        }
    }

    /// A map's entries read around their bytes are its entries encoded one by one, in DAG-CBOR's
    /// key order, and a map
    /// written from entries in any order (a key repeated keeps its first value) is the map
    /// encoded from IPLD.
    #[test]
    fn a_map_reads_and_writes_by_entries(
        map in prop::collection::btree_map("[a-c_]{0,4}", ipld_value(), 0..30),
        order in any::<prop::sample::Index>(),
    ) {
        let raw = RawValue::from_ipld(&Ipld::Map(map.clone())).unwrap();
        let mut expected: Vec<(&str, RawValue)> = map
            .iter()
            .map(|(k, v)| (k.as_str(), RawValue::from_ipld(v).unwrap()))
            .collect();
        expected.sort_by_key(|(k, _)| (k.len(), *k));
        let read: Vec<(&str, &[u8])> = raw.map_entries().unwrap().collect();
        let expected_bytes: Vec<(&str, &[u8])> =
            expected.iter().map(|(k, v)| (*k, v.as_bytes())).collect();
        prop_assert_eq!(read, expected_bytes);
        for (key, value) in &expected {
            prop_assert_eq!(raw.map_get(key), Some(value.clone()));
        }
        for absent in ["zz", "", "a_b_c"] {
            if !map.contains_key(absent) {
                prop_assert_eq!(raw.map_get(absent), None);
            }
        }
        let mut entries: Vec<(&str, &Ipld)> = map.iter().map(|(k, v)| (k.as_str(), v)).collect();
        if !entries.is_empty() {
            let by = order.index(entries.len());
            entries.rotate_left(by);
            entries.push((entries[0].0, &Ipld::Null));
        }
        prop_assert_eq!(RawValue::from_entries(entries).unwrap(), raw);
    }
}

proptest! {
    /// Writing a value to compare matches exactly the bytes writing it out gives: not a prefix of
    /// them, not more, not other bytes.
    #[test]
    fn comparing_as_written_agrees_with_writing(
        value in ipld_value(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut written = Vec::new();
        prolly_tree::cbor::encode_ipld_into(&mut written, &value).unwrap();
        let matches = |bytes: &[u8]| {
            let mut expect = prolly_tree::cbor::Expect::new(bytes);
            prolly_tree::cbor::encode_ipld_into(&mut expect, &value).unwrap();
            expect.matched()
        };
        prop_assert!(matches(&written));
        let i = at.index(written.len());
        prop_assert!(!matches(&written[..i]));
        let mut longer = written.clone();
        longer.insert(at.index(written.len() + 1), byte);
        prop_assert!(!matches(&longer));
        let mut other = written.clone();
        other[i] = byte;
        prop_assert_eq!(matches(&other), other == written);
    }
}
