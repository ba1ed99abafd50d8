//! `Node::decode` on any bytes: never a panic, and what it accepts is canonical (it re-encodes to
//! exactly the input), so one node has one encoding and one CID.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prolly_tree::Node;

fuzz_target!(|data: &[u8]| {
    if let Ok(node) = Node::decode(data.to_vec()) {
        assert_eq!(
            node.encode(),
            data,
            "an accepted node re-encodes to other bytes"
        );
    }
});
