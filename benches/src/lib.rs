//! Shared pieces of the benchmarks: the data set and a blockstore that counts what passes.

pub mod counting;
pub mod data;
pub mod flights;
pub mod gas;
pub mod link;
