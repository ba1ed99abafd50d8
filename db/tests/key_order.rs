//! The key encoding against the documented order: `encode(a) < encode(b)` exactly when
//! `compare(a, b)` is Less, for single values, compound keys and descending elements, and decoding
//! gives back the exact value and type.

use std::cmp::Ordering;

use ipld_core::ipld::Ipld;
use prolly_db::{KeyError, Order, compare_values as compare, decode_key, encode_key};
use proptest::prelude::*;

/// Numbers that probe the hard cases: near powers of two, around 2^53, the integer limits,
/// subnormals, both zeros, and integers next to equal floats.
fn number() -> impl Strategy<Value = Ipld> {
    let special_ints = prop::sample::select(vec![
        0i128,
        1,
        -1,
        (1 << 53) - 1,
        1 << 53,
        (1 << 53) + 1,
        -(1 << 53) - 1,
        i64::MAX as i128,
        i64::MIN as i128,
        u64::MAX as i128,
        -(u64::MAX as i128) - 1,
        1 << 63,
    ]);
    let special_floats = prop::sample::select(vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        9_007_199_254_740_992.0,
        9_007_199_254_740_994.0,
        18_446_744_073_709_551_616.0,
        -18_446_744_073_709_551_616.0,
        f64::MIN_POSITIVE,
        f64::from_bits(1),
        -f64::from_bits(1),
        f64::MAX,
        f64::MIN,
        1e300,
    ]);
    prop_oneof![
        special_ints.prop_map(Ipld::Integer),
        special_floats.prop_map(Ipld::Float),
        any::<i64>().prop_map(|i| Ipld::Integer(i as i128)),
        any::<u64>().prop_map(|i| Ipld::Integer(i as i128)),
        any::<u64>().prop_map(|i| Ipld::Integer(-(i as i128) - 1)),
        (-1000i64..1000).prop_map(|i| Ipld::Integer(i as i128)),
        (-1000i64..1000).prop_map(|i| Ipld::Float(i as f64)),
        (-4000i32..4000).prop_map(|i| Ipld::Float(i as f64 / 4.0)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Ipld::Float),
    ]
}

fn value() -> impl Strategy<Value = Ipld> {
    let leaf = prop_oneof![
        Just(Ipld::Null),
        any::<bool>().prop_map(Ipld::Bool),
        number(),
        // Small alphabets with zero bytes, so that prefixes and escapes meet often.
        prop::collection::vec(prop::sample::select(vec!['\0', 'a', 'b', 'é']), 0..4)
            .prop_map(|c| Ipld::String(c.into_iter().collect())),
        prop::collection::vec(prop::sample::select(vec![0u8, 1, 0xfe, 0xff]), 0..4)
            .prop_map(Ipld::Bytes),
        prop::sample::select(vec![0u8, 1, 2]).prop_map(|d| Ipld::Link(cid_of(&[d]))),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Ipld::List),
            prop::collection::btree_map(
                prop::sample::select(vec!["", "a", "ab", "b\0"]).prop_map(String::from),
                inner,
                0..3
            )
            .prop_map(Ipld::Map),
        ]
    })
}

fn cid_of(data: &[u8]) -> cid::Cid {
    // A CIDv1 raw identity hash: enough to have distinct, valid CIDs.
    let mh = cid::multihash::Multihash::<64>::wrap(0x00, data).unwrap();
    cid::Cid::new_v1(0x55, mh)
}

fn order() -> impl Strategy<Value = Order> {
    prop_oneof![Just(Order::Ascending), Just(Order::Descending)]
}

fn compare_key(a: &[(Ipld, Order)], b: &[(Ipld, Order)]) -> Ordering {
    for ((x, o), (y, _)) in a.iter().zip(b) {
        let c = match o {
            Order::Ascending => compare(x, y),
            Order::Descending => compare(y, x),
        };
        if c != Ordering::Equal {
            return c;
        }
    }
    a.len().cmp(&b.len())
}

fn exact_eq(a: &Ipld, b: &Ipld) -> bool {
    // Ipld's PartialEq says -0.0 == 0.0; keys must keep them apart.
    match (a, b) {
        (Ipld::Float(x), Ipld::Float(y)) => x.to_bits() == y.to_bits(),
        (Ipld::List(x), Ipld::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| exact_eq(a, b))
        }
        (Ipld::Map(x), Ipld::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, a), (kb, b))| ka == kb && exact_eq(a, b))
        }
        _ => a == b,
    }
}

proptest! {
    #[test]
    fn single_values_sort_as_documented(a in value(), b in value()) {
        let ea = encode_key([(&a, Order::Ascending)]).unwrap();
        let eb = encode_key([(&b, Order::Ascending)]).unwrap();
        prop_assert_eq!(ea.cmp(&eb), compare(&a, &b), "{:?} vs {:?}", a, b);
        // Equal bytes exactly when the values are the same value of the same type.
        prop_assert_eq!(ea == eb, exact_eq(&a, &b));
    }

    #[test]
    fn compound_keys_sort_element_by_element(
        a in prop::collection::vec((value(), order()), 1..4),
        b_values in prop::collection::vec(value(), 1..4),
    ) {
        // The same orders on both sides, as for one index.
        let b: Vec<(Ipld, Order)> = b_values.into_iter().zip(a.iter().map(|(_, o)| *o)).collect();
        let n = a.len().min(b.len());
        let (a, b) = (&a[..n], &b[..n]);
        let ea = encode_key(a.iter().map(|(v, o)| (v, *o))).unwrap();
        let eb = encode_key(b.iter().map(|(v, o)| (v, *o))).unwrap();
        prop_assert_eq!(ea.cmp(&eb), compare_key(a, b));
    }

    #[test]
    fn decoding_gives_back_the_exact_values(parts in prop::collection::vec((value(), order()), 0..4)) {
        let bytes = encode_key(parts.iter().map(|(v, o)| (v, *o))).unwrap();
        let orders: Vec<Order> = parts.iter().map(|(_, o)| *o).collect();
        let decoded = decode_key(&bytes, &orders).unwrap();
        prop_assert_eq!(decoded.len(), parts.len());
        for (d, (v, _)) in decoded.iter().zip(&parts) {
            prop_assert!(exact_eq(d, v), "{:?} decoded as {:?}", v, d);
        }
    }

    #[test]
    fn descending_reverses_single_values(a in value(), b in value()) {
        let ea = encode_key([(&a, Order::Descending)]).unwrap();
        let eb = encode_key([(&b, Order::Descending)]).unwrap();
        prop_assert_eq!(ea.cmp(&eb), compare(&b, &a), "{:?} vs {:?}", a, b);
    }

    /// Integers and floats of equal value: the integer first, whatever the magnitude; and each
    /// against its float neighbours.
    #[test]
    fn integers_meet_floats_exactly(i in -(1i64 << 53)..(1i64 << 53), shift in 0u32..11) {
        let n = (i as i128) << shift; // exactly representable as f64
        let f = n as f64;
        let key = |v: &Ipld| encode_key([(v, Order::Ascending)]).unwrap();
        prop_assert!(key(&Ipld::Integer(n)) < key(&Ipld::Float(f)));
        prop_assert!(key(&Ipld::Float(f)) < key(&Ipld::Integer(n + 1)));
        prop_assert!(key(&Ipld::Integer(n - 1)) < key(&Ipld::Float(f)));
        let up = f64::from_bits(if f >= 0.0 { f.to_bits() + 1 } else { f.to_bits() - 1 });
        if f != 0.0 {
            prop_assert!(key(&Ipld::Integer(n)) < key(&Ipld::Float(up)));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..40), orders in prop::collection::vec(order(), 0..3)) {
        let _ = decode_key(&bytes, &orders);
    }

    /// Decoding accepts only canonical keys: whatever it reads back encodes to the same bytes.
    /// Numbers are the bytes most worth trying (their fraction groups can spell one value twice).
    #[test]
    fn only_canonical_keys_decode(tail in prop::collection::vec(any::<u8>(), 0..14), tag in prop::sample::select(vec![0x10u8, 0x12]), order in order()) {
        let mut bytes = vec![tag, 0x04];
        bytes.extend(tail);
        if order == Order::Descending {
            bytes.iter_mut().for_each(|b| *b = !*b);
        }
        if let Ok(values) = decode_key(&bytes, &[order]) {
            let again = encode_key([(&values[0], order)]).unwrap();
            prop_assert_eq!(again, bytes);
        }
    }
}

/// Integers take a byte per 7 bits of precision: a year is 6 bytes, a row number below a million at most 7.
#[test]
fn integer_keys_are_compact() {
    let len = |i: i128| {
        encode_key([(&Ipld::Integer(i), Order::Ascending)])
            .unwrap()
            .len()
    };
    assert_eq!(len(1), 5);
    assert_eq!(len(1990), 6);
    assert_eq!(len(-1990), 6);
    assert_eq!(len(999_999), 7);
    assert_eq!(len(1_000_000), 6); // 2^6 × 15,625: trailing zero bits cost nothing
    assert_eq!(len(i64::MAX as i128), 13);
    assert_eq!(len(0), 2);
    // The example of spec section 11.
    let key = encode_key([(&Ipld::Integer(1990), Order::Ascending)]).unwrap();
    assert_eq!(key, [0x12, 0x04, 0x56, 0xF1, 0xC0, 0x00]);
}

#[test]
fn the_documented_order_holds_on_examples() {
    let ordered = [
        Ipld::Null,
        Ipld::Bool(false),
        Ipld::Bool(true),
        Ipld::Float(-1e300),
        Ipld::Integer(-(u64::MAX as i128) - 1),
        Ipld::Integer(-1),
        Ipld::Float(-1.0),
        Ipld::Float(-0.5),
        Ipld::Integer(0),
        Ipld::Float(-0.0),
        Ipld::Float(0.0),
        Ipld::Float(f64::from_bits(1)),
        Ipld::Integer(1),
        Ipld::Float(1.0),
        Ipld::Integer((1 << 53) + 1),
        Ipld::Float(9_007_199_254_740_994.0),
        Ipld::Integer(u64::MAX as i128),
        Ipld::Float(18_446_744_073_709_551_616.0),
        Ipld::String("".into()),
        Ipld::String("a".into()),
        Ipld::String("a\0".into()),
        Ipld::String("a\0b".into()),
        Ipld::String("a\x01".into()),
        Ipld::String("b".into()),
        Ipld::Bytes(vec![]),
        Ipld::Bytes(vec![0]),
        Ipld::List(vec![]),
        Ipld::List(vec![Ipld::Null]),
        Ipld::List(vec![Ipld::Integer(1)]),
        Ipld::Map(Default::default()),
        Ipld::Link(cid_of(&[0])),
    ];
    let keys: Vec<Vec<u8>> = ordered
        .iter()
        .map(|v| encode_key([(v, Order::Ascending)]).unwrap())
        .collect();
    for i in 1..keys.len() {
        assert!(
            keys[i - 1] < keys[i],
            "{:?} !< {:?}",
            ordered[i - 1],
            ordered[i]
        );
        assert_eq!(compare(&ordered[i - 1], &ordered[i]), Ordering::Less);
        let down_a = encode_key([(&ordered[i - 1], Order::Descending)]).unwrap();
        let down_b = encode_key([(&ordered[i], Order::Descending)]).unwrap();
        assert!(
            down_a > down_b,
            "descending {:?} vs {:?}",
            ordered[i - 1],
            ordered[i]
        );
    }
}

#[test]
fn values_outside_the_order_are_refused() {
    for v in [
        Ipld::Float(f64::NAN),
        Ipld::Float(f64::INFINITY),
        Ipld::Integer(1 << 64),
        Ipld::Integer(-(1 << 64) - 1),
    ] {
        assert!(
            matches!(
                encode_key([(&v, Order::Ascending)]),
                Err(KeyError::Unsupported(_))
            ),
            "{v:?}"
        );
    }
    let deep = (0..100).fold(Ipld::Null, |v, _| Ipld::List(vec![v]));
    assert!(encode_key([(&deep, Order::Ascending)]).is_err());
    // Not the canonical encoding of anything: rejected, not misread.
    assert!(decode_key(&[0x20, b'a', 0x00, 0x07], &[Order::Ascending]).is_err());
    assert!(decode_key(&[0x02, 0x02], &[Order::Ascending]).is_err());
}
