//! Load: many clients at once against one node with small limits. Every client gets the right
//! answer (a busy node says so with 429 or 503 and `Retry-After`, and clients come back or fall
//! back to block reads), and the node stays up and within its limits.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{flights, local_answer, queries, start_server};
use prolly_client::peer::ProllyPeer;
use prolly_client::server::ServerConfig;
use prolly_client::source::{GatewayConfig, GatewaySource};
use prolly_client::{MemoryStore, Reader, TrustedRoot, Via};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_get_correct_answers_from_a_node_with_small_limits() {
    let flights = flights();
    let config = ServerConfig {
        max_requests: 24,
        max_queries: 2,
        ..ServerConfig::default()
    };
    let addr = start_server(flights.store.clone(), config).await;
    let url = format!("http://{addr}");
    let queries = Arc::new(queries());
    let wants: Arc<Vec<Vec<u8>>> =
        Arc::new(queries.iter().map(|q| local_answer(flights, q)).collect());
    let (proofs, block_reads) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));

    let clients = (0..48).map(|i| {
        let (url, queries, wants) = (url.clone(), queries.clone(), wants.clone());
        let (proofs, block_reads) = (proofs.clone(), block_reads.clone());
        let root = TrustedRoot::given(flights.root);
        tokio::spawn(async move {
            let gateway = GatewaySource::new(
                &url,
                GatewayConfig {
                    concurrency: 8,
                    retries: 50,
                    ..GatewayConfig::default()
                },
            )
            .unwrap();
            let mut reader =
                Reader::new(Arc::new(MemoryStore::new())).with_source(Arc::new(gateway));
            if i % 2 == 0 {
                reader = reader.with_peer(ProllyPeer::new(&url, Duration::from_secs(30)).unwrap());
            }
            for round in 0..3 {
                let k = (i + round) % queries.len();
                let answer = reader.query(&root, &queries[k]).await.unwrap();
                assert_eq!(answer.result.to_cbor(), wants[k], "client {i}, query {k}");
                match answer.via {
                    Via::Proof { .. } => proofs.fetch_add(1, Ordering::Relaxed),
                    Via::Blocks => block_reads.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    });
    for client in futures::future::join_all(clients).await {
        client.unwrap();
    }
    let (proofs, block_reads) = (
        proofs.load(Ordering::Relaxed),
        block_reads.load(Ordering::Relaxed),
    );
    assert_eq!(proofs + block_reads, 48 * 3);
    assert!(proofs > 0, "some verified queries got through");

    // The limits held: past them the node said it was busy, and it still answers.
    let client = prolly_client::source::http_client(Duration::from_secs(10)).unwrap();
    let burst = (0..200).map(|_| {
        let client = client.clone();
        let url = format!("{url}/ipfs/{}?format=raw", flights.root);
        async move { client.get(url).send().await.map(|r| r.status().as_u16()) }
    });
    let statuses: Vec<u16> = futures::future::join_all(burst)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "{statuses:?}"
    );
    let response = client
        .get(format!("{url}/ipfs/{}?format=raw", flights.root))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the node is still up");
}
