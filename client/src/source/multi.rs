//! Several peers as one source. A batch is spread over up to `fanout` live peers; a peer slower
//! than `hedge_after` is hedged (its share goes to another peer too, and the first answer wins);
//! errors and timeouts fall back to a peer not yet asked for that block; a peer that serves one
//! block failing its hash is dropped for the life of this source. Bytes that fail the hash are
//! never returned.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use cid::Cid;
use futures::future::{BoxFuture, Either, join_all, select};

use super::{BlockSource, FetchError, Fetched, PeerErrors, fetch_checked};
use crate::block::BadBlock;

#[derive(Debug, Clone)]
pub struct MultiConfig {
    /// Peers asked at once for one batch.
    pub fanout: usize,
    /// A peer that has not answered after this is hedged.
    pub hedge_after: Duration,
    /// A peer that has not answered after this has failed (the next is asked).
    pub timeout: Duration,
}

impl Default for MultiConfig {
    fn default() -> Self {
        MultiConfig {
            fanout: 4,
            hedge_after: Duration::from_millis(750),
            timeout: Duration::from_secs(30),
        }
    }
}

struct Peer {
    source: Arc<dyn BlockSource>,
    dropped: AtomicBool,
    bad_blocks: AtomicU64,
    failures: AtomicU64,
    served: AtomicU64,
}

/// What a peer did in this source's life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerReport {
    pub name: String,
    /// Dropped for serving a block that failed its hash.
    pub dropped: bool,
    pub bad_blocks: u64,
    /// Blocks it failed to give (not found, errors, timeouts).
    pub failures: u64,
    pub served: u64,
}

pub struct MultiSource {
    name: String,
    peers: Vec<Peer>,
    config: MultiConfig,
}

impl MultiSource {
    pub fn new(peers: Vec<Arc<dyn BlockSource>>, config: MultiConfig) -> MultiSource {
        let name = peers
            .iter()
            .map(|p| p.name().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        MultiSource {
            name: format!("[{name}]"),
            peers: peers
                .into_iter()
                .map(|source| Peer {
                    source,
                    dropped: AtomicBool::new(false),
                    bad_blocks: AtomicU64::new(0),
                    failures: AtomicU64::new(0),
                    served: AtomicU64::new(0),
                })
                .collect(),
            config,
        }
    }

    pub fn report(&self) -> Vec<PeerReport> {
        self.peers
            .iter()
            .map(|p| PeerReport {
                name: p.source.name().to_string(),
                dropped: p.dropped.load(Ordering::Relaxed),
                bad_blocks: p.bad_blocks.load(Ordering::Relaxed),
                failures: p.failures.load(Ordering::Relaxed),
                served: p.served.load(Ordering::Relaxed),
            })
            .collect()
    }

    fn live(&self, i: usize) -> bool {
        !self.peers[i].dropped.load(Ordering::Relaxed)
    }

    /// Asks peer `i` for `cids` within the timeout; every CID gets an answer.
    async fn ask(&self, i: usize, cids: &[Cid]) -> Vec<Fetched> {
        let source = self.peers[i].source.as_ref();
        match tokio::time::timeout(self.config.timeout, fetch_checked(source, cids)).await {
            Ok(answers) => answers,
            Err(_) => cids
                .iter()
                .map(|c| (*c, Err(FetchError::Timeout)))
                .collect(),
        }
    }

    /// Asks `primary`, and `backup` too if `primary` is slower than `hedge_after`; returns who
    /// answered first and the answers.
    /// Asks `primary`, and `backup` too if `primary` is slower than `hedge_after`. The first
    /// answer with a block wins; one with none waits for the other side. Returns every answer
    /// set that arrived, with who gave it, so that a lie is counted even when the other side
    /// supplies the block.
    async fn hedged(
        &self,
        primary: usize,
        backup: Option<usize>,
        cids: &[Cid],
    ) -> Vec<(usize, Vec<Fetched>)> {
        let first = Box::pin(self.ask(primary, cids));
        let Some(backup) = backup else {
            return vec![(primary, first.await)];
        };
        let second = Box::pin(async move {
            tokio::time::sleep(self.config.hedge_after).await;
            self.ask(backup, cids).await
        });
        let any_block = |answers: &[Fetched]| answers.iter().any(|(_, a)| a.is_ok());
        match select(first, second).await {
            Either::Left((answers, other)) if !any_block(&answers) => {
                vec![(primary, answers), (backup, other.await)]
            }
            Either::Left((answers, _)) => vec![(primary, answers)],
            Either::Right((answers, other)) if !any_block(&answers) => {
                vec![(backup, answers), (primary, other.await)]
            }
            Either::Right((answers, _)) => vec![(backup, answers)],
        }
    }

    async fn fetch_all(&self, cids: &[Cid]) -> Vec<Fetched> {
        let mut done: Vec<Fetched> = Vec::with_capacity(cids.len());
        let mut errors: HashMap<Cid, PeerErrors> = HashMap::new();
        let mut tried: HashMap<Cid, HashSet<usize>> = HashMap::new();
        let mut pending: Vec<Cid> = cids.to_vec();
        let mut wave = 0usize;
        while !pending.is_empty() {
            // Each pending block goes to a live peer not yet asked for it, spread over at
            // most `fanout` peers.
            let mut groups: HashMap<usize, Vec<Cid>> = HashMap::new();
            for (k, cid) in pending.drain(..).enumerate() {
                let asked = tried.entry(cid).or_default();
                let candidates: Vec<usize> = (0..self.peers.len())
                    .filter(|&i| self.live(i) && !asked.contains(&i))
                    .take(self.config.fanout.max(1))
                    .collect();
                if candidates.is_empty() {
                    let mut why = errors.remove(&cid).unwrap_or_default();
                    // Peers dropped before they were asked are named too.
                    for (i, peer) in self.peers.iter().enumerate() {
                        if !self.live(i) && !asked.contains(&i) {
                            why.0
                                .push((peer.source.name().to_string(), FetchError::Dropped));
                        }
                    }
                    done.push((cid, Err(FetchError::AllPeersFailed(why))));
                    continue;
                }
                let peer = candidates[(k + wave) % candidates.len()];
                groups.entry(peer).or_default().push(cid);
            }
            wave += 1;
            let asks = groups.into_iter().map(|(peer, group)| {
                let asked = &tried;
                async move {
                    let backup = (0..self.peers.len()).find(|&i| {
                        i != peer
                            && self.live(i)
                            && !asked.get(&group[0]).is_some_and(|t| t.contains(&i))
                    });
                    self.hedged(peer, backup, &group).await
                }
            });
            let arrived: Vec<(usize, Vec<Fetched>)> =
                join_all(asks).await.into_iter().flatten().collect();
            // A block either side of a hedge supplied is done; the other side's error for it
            // is still counted against that side.
            let supplied: HashSet<Cid> = arrived
                .iter()
                .flat_map(|(_, answers)| answers.iter())
                .filter(|(_, a)| a.is_ok())
                .map(|(c, _)| *c)
                .collect();
            let mut settled = HashSet::new();
            for (peer, answers) in arrived {
                let p = &self.peers[peer];
                for (cid, answer) in answers {
                    tried.entry(cid).or_default().insert(peer);
                    match answer {
                        Ok(bytes) => {
                            p.served.fetch_add(1, Ordering::Relaxed);
                            if settled.insert(cid) {
                                done.push((cid, Ok(bytes)));
                            }
                        }
                        Err(error) => {
                            // Only bytes that fail their hash are a lie: a block too large, or
                            // a hash this client does not know, says nothing about the peer.
                            if matches!(error, FetchError::BadBlock(BadBlock::HashMismatch)) {
                                p.bad_blocks.fetch_add(1, Ordering::Relaxed);
                                p.dropped.store(true, Ordering::Relaxed);
                            } else {
                                p.failures.fetch_add(1, Ordering::Relaxed);
                            }
                            let name = p.source.name().to_string();
                            errors.entry(cid).or_default().0.push((name, error));
                            if !supplied.contains(&cid) && !pending.contains(&cid) {
                                pending.push(cid);
                            }
                        }
                    }
                }
            }
        }
        done
    }
}

impl BlockSource for MultiSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn fetch<'a>(&'a self, cids: &'a [Cid]) -> BoxFuture<'a, Vec<Fetched>> {
        Box::pin(self.fetch_all(cids))
    }
}
