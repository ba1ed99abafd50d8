//! The strict CARv1 reader on any bytes: never a panic; the deferred-hash reader accepts at least
//! what the hashing one accepts; and an accepted CAR is canonical (writing its parts back gives
//! the input).
#![no_main]

use libfuzzer_sys::fuzz_target;
use prolly_proofs::car;

fuzz_target!(|data: &[u8]| {
    let strict = car::read_strict(data);
    let deferred = car::read_strict_deferred(data);
    if let Ok(parsed) = &strict {
        assert!(
            deferred.is_ok(),
            "the deferred reader refuses a CAR the strict one takes"
        );
        let blocks: Vec<_> = parsed
            .blocks
            .iter()
            .map(|(cid, bytes)| (*cid, bytes.to_vec()))
            .collect();
        let again = car::write((parsed.root, parsed.root_block), &blocks);
        assert_eq!(
            again, data,
            "an accepted CAR is not in its one canonical form"
        );
    }
});
