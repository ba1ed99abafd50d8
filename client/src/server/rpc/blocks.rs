//! The read-only block methods every node serves: `Filecoin.ChainReadObj`,
//! `Filecoin.ChainHasObj` and `Filecoin.Version`.

use std::sync::Arc;

use cid::Cid;
use data_encoding::BASE64;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::{Perm, RpcError, RpcMethods};
use crate::server::Served;

/// The v1 API version Lotus reports (2.3.0).
pub const API_VERSION: u64 = 0x02_03_00;

/// Blocks of a store, read by Lotus's method names.
pub struct BlockMethods<S> {
    store: Arc<S>,
}

impl<S: Served> BlockMethods<S> {
    pub fn new(store: Arc<S>) -> Self {
        BlockMethods { store }
    }

    /// A CID parameter in Lotus's JSON form `{"/": "…"}`.
    pub fn cid_param(method: &str, params: &[Value], index: usize) -> Result<Cid, RpcError> {
        params[index]
            .get("/")
            .and_then(Value::as_str)
            .and_then(|s| Cid::try_from(s).ok())
            .ok_or_else(|| RpcError::param(method, index, "not a CID"))
    }

    /// The block methods; `None` for any other method.
    pub fn call_block(&self, method: &str, params: &[Value]) -> Option<Result<Value, RpcError>> {
        let read = |method: &str| -> Result<Cid, RpcError> {
            RpcError::expect_params(method, params, 1)?;
            Self::cid_param(method, params, 0)
        };
        Some(match method {
            "Filecoin.ChainReadObj" => read(method).and_then(|cid| match self.store.get(&cid) {
                Ok(Some(bytes)) => Ok(Value::String(BASE64.encode(&bytes))),
                Ok(None) => Err(RpcError::method(format!(
                    "blockstore get: ipld: could not find {cid}"
                ))),
                Err(e) => Err(RpcError::method(format!("blockstore get: {e:#}"))),
            }),
            "Filecoin.ChainHasObj" => read(method).and_then(|cid| {
                self.store
                    .has(&cid)
                    .map(Value::Bool)
                    .map_err(|e| RpcError::method(format!("blockstore has: {e:#}")))
            }),
            _ => return None,
        })
    }
}

impl<S: Served> RpcMethods for BlockMethods<S> {
    fn call<'a>(
        &'a self,
        method: &'a str,
        params: &'a [Value],
        _granted: Perm,
    ) -> BoxFuture<'a, Result<Value, RpcError>> {
        Box::pin(async move {
            if method == "Filecoin.Version" {
                RpcError::expect_params(method, params, 0)?;
                return Ok(json!({
                    "Version": concat!("prollydb/", env!("CARGO_PKG_VERSION")),
                    "APIVersion": API_VERSION,
                    "BlockDelay": 30,
                    "Agent": "prollydb",
                }));
            }
            self.call_block(method, params)
                .unwrap_or_else(|| Err(RpcError::unknown_method(method)))
        })
    }
}
