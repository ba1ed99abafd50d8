//! The strict DAG-CBOR validator (`RawValue::from_bytes`) and decoder (`decode_ipld`) on any
//! bytes: never a panic, they accept exactly the same inputs, and what they accept is canonical
//! (the encoder gives the input back byte for byte).
#![no_main]

use libfuzzer_sys::fuzz_target;
use prolly_tree::{RawValue, decode_ipld};

fuzz_target!(|data: &[u8]| {
    let validated = RawValue::from_bytes(bytes::Bytes::copy_from_slice(data));
    let decoded = decode_ipld(data);
    assert_eq!(
        validated.is_ok(),
        decoded.is_ok(),
        "validator and decoder disagree"
    );
    if let Ok(value) = decoded {
        let encoded = RawValue::from_ipld(&value).expect("a decoded value encodes");
        assert_eq!(encoded.as_bytes(), data, "accepted bytes are not canonical");
        assert_eq!(
            validated.expect("accepted").to_ipld().expect("decodes"),
            value
        );
    }
});
