//! `verify` against the golden proofs of spec/vectors. The first input byte picks a golden proof
//! (its root and query are fixed, as a light client holds them); the rest is the proof's bytes,
//! which the fuzzer mutates starting from the golden CAR. The claimed result is the one the
//! mutated envelope carries. Never a panic, and never an accept of a result other than the true
//! one: whatever bytes arrive, `verify` may only accept the golden result, and `verify_claim`
//! (which reads the claim from the envelope itself) may only return it.
#![no_main]

use std::sync::OnceLock;

use cid::Cid;
use libfuzzer_sys::fuzz_target;
use prolly_db::{Query, QueryResult, ipld_from_json};
use prolly_proofs::{Envelope, car, verify, verify_claim};

struct Golden {
    root: Cid,
    query: Query,
    result: Vec<u8>,
}

fn golden() -> &'static [Golden] {
    static GOLDEN: OnceLock<Vec<Golden>> = OnceLock::new();
    GOLDEN.get_or_init(|| {
        let index: serde_json::Value =
            serde_json::from_str(include_str!("../../spec/vectors/proofs.json")).expect("JSON");
        index["proofs"]
            .as_array()
            .expect("a list of proofs")
            .iter()
            .map(|p| Golden {
                root: p["root"].as_str().expect("root").parse().expect("a CID"),
                query: Query::from_ipld(&ipld_from_json(&p["query"]).expect("IPLD"))
                    .expect("a query"),
                result: QueryResult::from_ipld(&ipld_from_json(&p["result"]).expect("IPLD"))
                    .expect("a result")
                    .to_cbor(),
            })
            .collect()
    })
}

/// The result the proof's envelope claims, if the proof gets that far.
fn claimed(proof: &[u8]) -> Option<QueryResult> {
    let parsed = car::read_strict_deferred(proof).ok()?;
    let envelope = Envelope::decode(parsed.root_block).ok()?;
    QueryResult::from_cbor(&envelope.result).ok()
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, proof)) = data.split_first() else {
        return;
    };
    let all = golden();
    let g = &all[pick as usize % all.len()];
    if let Some(result) = claimed(proof)
        && verify(&g.root, &g.query, &result, proof).is_ok()
    {
        assert_eq!(result.to_cbor(), g.result, "verify accepted a wrong result");
    }
    if let Ok(result) = verify_claim(&g.root, &g.query, proof) {
        assert_eq!(result.to_cbor(), g.result, "verify_claim returned a wrong result");
    }
});
