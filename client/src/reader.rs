//! The query loop: the one `prolly_db` executor runs over the local store; when it reports
//! missing blocks, all of them are fetched at once (one *round trip*), stored, and it runs again.
//! A repeated query fetches nothing. Waves number about the tree depth per phase (the root and
//! the header, the catalog, the index range, the documents), never one per block.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;
use prolly_db::{Collection, Database, Plan, Query, QueryResult};
use prolly_tree::Outcome;

use crate::error::ClientError;
use crate::root::TrustedRoot;
use crate::source::{BlockSource, fetch_checked};

/// A local store a reader keeps fetched blocks in. Each read gets a *view*: for the redb store a
/// session, whose blocks the cache does not evict while the read runs.
pub trait Local: Send + Sync {
    type View: Blockstore + Send + Sync;
    fn view(&self) -> Self::View;
}

impl<T: Blockstore + Send + Sync> Local for Arc<T> {
    type View = Arc<T>;
    fn view(&self) -> Arc<T> {
        self.clone()
    }
}

#[cfg(feature = "store")]
impl Local for crate::store::Store {
    type View = crate::store::Session;
    fn view(&self) -> crate::store::Session {
        self.session()
    }
}

/// What a read cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Waves of fetches (each one request per source, or one per block in parallel).
    pub rounds: u32,
    pub blocks: u64,
    /// Block bytes fetched (or the proof's bytes, for a verified query).
    pub bytes: u64,
}

/// How an answer was had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// The executor over blocks: local, or fetched and hash-checked.
    Blocks,
    /// A prollydb node's proof, verified against the root and the query sent.
    Proof { peer: String },
}

/// A verified answer: the result, the root it is at and where that root came from.
#[derive(Debug, Clone)]
pub struct Answer {
    pub result: QueryResult,
    pub root: TrustedRoot,
    pub via: Via,
    pub stats: Stats,
}

/// Reads databases through a local store, fetching what it lacks.
pub struct Reader<L> {
    local: L,
    source: Option<Arc<dyn BlockSource>>,
    #[cfg(feature = "net")]
    peers: Vec<Arc<crate::peer::ProllyPeer>>,
    /// Roots whose header (a prollydb database of this version) was already checked.
    checked: Mutex<HashSet<Cid>>,
}

fn missing_union<A, B>(a: &Outcome<A>, b: &Outcome<B>) -> Vec<Cid> {
    let mut all = a.missing();
    all.extend(b.missing());
    all.into_iter().collect()
}

impl<L: Local> Reader<L> {
    /// A reader of what `local` holds; add sources to read more.
    pub fn new(local: L) -> Self {
        Reader {
            local,
            source: None,
            #[cfg(feature = "net")]
            peers: Vec::new(),
            checked: Mutex::default(),
        }
    }

    /// Where missing blocks come from (a [`crate::source::MultiSource`] for several).
    pub fn with_source(mut self, source: Arc<dyn BlockSource>) -> Self {
        self.source = Some(source);
        self
    }

    /// A prollydb node asked first for verified queries (one round trip); on a refusal or a
    /// failure the reader falls back to block reads.
    #[cfg(feature = "net")]
    pub fn with_peer(mut self, peer: crate::peer::ProllyPeer) -> Self {
        self.peers.push(Arc::new(peer));
        self
    }

    pub fn local(&self) -> &L {
        &self.local
    }

    /// Runs `f` over the local store until it completes, fetching every block it reports
    /// missing, a wave at a time: the loop under every read.
    pub async fn fetch_until<T, E>(
        &self,
        f: impl Fn(&L::View) -> Result<Outcome<T>, E>,
    ) -> Result<(T, Stats), ClientError>
    where
        ClientError: From<E>,
    {
        let view = self.local.view();
        let mut stats = Stats::default();
        let mut last_wave: HashSet<Cid> = HashSet::new();
        loop {
            let missing: Vec<Cid> = match f(&view)? {
                Outcome::Complete(value) => return Ok((value, stats)),
                Outcome::Missing(missing) => missing.into_iter().collect(),
            };
            if missing.iter().any(|c| last_wave.contains(c)) {
                return Err(ClientError::Store(anyhow::anyhow!(
                    "blocks fetched and stored are missing again"
                )));
            }
            let Some(source) = &self.source else {
                return Err(ClientError::NotHeld {
                    cid: missing[0],
                    count: missing.len(),
                });
            };
            stats.rounds += 1;
            let mut got = Vec::with_capacity(missing.len());
            let mut failed = None;
            for (cid, answer) in fetch_checked(source.as_ref(), &missing).await {
                match answer {
                    Ok(bytes) => got.push((cid, bytes)),
                    Err(error) => failed = failed.or(Some((cid, error))),
                }
            }
            stats.blocks += got.len() as u64;
            stats.bytes += got.iter().map(|(_, b)| b.len() as u64).sum::<u64>();
            last_wave = got.iter().map(|(c, _)| *c).collect();
            view.put_many_keyed(got).map_err(ClientError::Store)?;
            if let Some((cid, error)) = failed {
                return Err(ClientError::Unavailable {
                    cid,
                    source_name: source.name().to_string(),
                    error,
                });
            }
        }
    }

    /// Runs `f` over the database at `root` until it completes, fetching every block it reports
    /// missing, a wave at a time. The root's header is checked in the same waves.
    pub async fn read<T>(
        &self,
        root: &Cid,
        f: impl Fn(&Database<&L::View>) -> prolly_db::Result<Outcome<T>>,
    ) -> Result<(T, Stats), ClientError> {
        let checked = self
            .checked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(root);
        let out = self
            .fetch_until(|view| {
                let header = if checked {
                    Outcome::Complete(())
                } else {
                    Database::open(view, *root)?.map(|_| ())
                };
                let value = match Database::open_unchecked(view, *root)? {
                    Outcome::Complete(db) => f(&db)?,
                    Outcome::Missing(m) => Outcome::Missing(m),
                };
                let missing = missing_union(&header, &value);
                Ok::<_, prolly_db::Error>(match (header, value) {
                    (Outcome::Complete(()), Outcome::Complete(value)) => Outcome::Complete(value),
                    _ => Outcome::Missing(missing.into_iter().collect()),
                })
            })
            .await?;
        self.checked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(*root);
        Ok(out)
    }

    /// Runs `query` on the database prollydb actor `actor` holds in the Filecoin state
    /// `state_root`, and proves it from that state root (SPEC section 19): the state tree's
    /// path to the actor is fetched and checked like every other block, and the proof, made from
    /// the blocks read, is verified before the answer is returned. Returns the answer and the
    /// proof's bytes.
    pub async fn query_anchored(
        &self,
        state_root: Cid,
        actor: u64,
        query: &Query,
        origin: crate::root::Origin,
    ) -> Result<(Answer, Vec<u8>), ClientError> {
        query.validate()?;
        let (proof, stats) = self
            .fetch_until(|view| prolly_proofs::prove_anchored(view, state_root, actor, query))
            .await?;
        prolly_proofs::verify_anchored(&state_root, actor, query, &proof.result, &proof.bytes)?;
        let view = self.local.view();
        let recorder = prolly_proofs::RecordingStore::new(&view);
        let db_root = prolly_proofs::db_root(&recorder, &state_root, actor)
            .map_err(|e| ClientError::from(prolly_proofs::ProveError::from(e)))?
            .into_result()
            .map_err(|e| ClientError::Db(e.into()))?;
        Ok((
            Answer {
                result: proof.result,
                root: TrustedRoot {
                    cid: db_root,
                    origin,
                },
                via: Via::Blocks,
                stats,
            },
            proof.bytes,
        ))
    }

    /// Runs `query` at `root`: through a verified prollydb node when one is set and agrees,
    /// otherwise over blocks.
    pub async fn query(&self, root: &TrustedRoot, query: &Query) -> Result<Answer, ClientError> {
        query.validate()?;
        #[cfg(feature = "net")]
        if let Some(answer) = self.query_peers(root, query).await? {
            return Ok(answer);
        }
        let (result, stats) = self.read(&root.cid, |db| db.query(query)).await?;
        Ok(Answer {
            result,
            root: root.clone(),
            via: Via::Blocks,
            stats,
        })
    }

    /// The plan the executor would run.
    pub async fn explain(&self, root: &Cid, query: &Query) -> Result<(Plan, Stats), ClientError> {
        self.read(root, |db| db.explain(query)).await
    }

    /// Every collection with its indexes.
    pub async fn collections(
        &self,
        root: &Cid,
    ) -> Result<(Vec<(String, Collection)>, Stats), ClientError> {
        self.read(root, |db| db.collections()).await
    }

    /// Asks the verified peers in turn. A refusal or a failure moves on; a proof that fails
    /// verification drops the peer for this reader's life.
    #[cfg(feature = "net")]
    async fn query_peers(
        &self,
        root: &TrustedRoot,
        query: &Query,
    ) -> Result<Option<Answer>, ClientError> {
        use crate::protocol::At;
        let mut refusals = Vec::new();
        for peer in self.peers.iter().filter(|p| !p.dropped()) {
            let (result, proof) = match peer.query(At::Root(root.cid), query).await {
                Ok(answer) => answer,
                Err(e) => {
                    refusals.push(format!("{}: {e}", peer.base()));
                    continue;
                }
            };
            // Verified: keep the witness, so that later reads of the same paths are local.
            let car = prolly_proofs::car::read_strict(&proof)
                .map_err(|e| ClientError::Store(anyhow::anyhow!("a verified proof: {e}")))?;
            let view = self.local.view();
            view.put_many_keyed(car.blocks.iter().map(|(c, b)| (*c, *b)))
                .map_err(ClientError::Store)?;
            return Ok(Some(Answer {
                result,
                root: root.clone(),
                via: Via::Proof {
                    peer: peer.base().to_string(),
                },
                stats: Stats {
                    rounds: 1,
                    blocks: car.blocks.len() as u64,
                    bytes: proof.len() as u64,
                },
            }));
        }
        if self.source.is_none() && !refusals.is_empty() {
            return Err(ClientError::NoPeerAnswered(refusals.join("; ")));
        }
        Ok(None)
    }
}
