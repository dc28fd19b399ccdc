//! Two services on one database, sharing an invalidation channel: a change made through one is
//! seen at once by the other, whose cache would otherwise serve the old record until it expires.

use keyway_core::{CreateKey, Ctx, Keyway, KeywayConfig, VerifyRequest};
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::key_material::KeyFormat;
use keyway_domain::verify::VerifyCode;
use keyway_limits::{Invalidation, LocalInvalidation, Ports};
use keyway_store::Store;
use keyway_store_sqlite::SqliteStore;
use std::sync::Arc;
use std::time::Duration;

const ROOT_KEY: &str = "kwroot_invalidation_test_secret";

async fn node(store: &Arc<dyn Store>, channel: &Arc<LocalInvalidation>) -> Arc<Keyway> {
    let channel: Arc<dyn Invalidation> = channel.clone();
    let ports = Ports { invalidation: channel, ..Ports::local(store.clone()) };
    // Long enough that only an invalidation can make the second node see the change.
    let config = KeywayConfig { cache_ttl: Duration::from_secs(3600), ..KeywayConfig::default() };
    Keyway::start(store.clone(), ports, None, config).await.expect("start").0
}

#[tokio::test]
async fn a_key_deleted_on_one_node_is_not_served_from_the_cache_of_another() {
    let path = std::env::temp_dir().join(format!("keyway-invalidation-{}.db", new_id(IdKind::Request)));
    let sqlite = SqliteStore::connect(&format!("sqlite://{}", path.display())).await.expect("open sqlite");
    sqlite.migrate().await.expect("migrate");
    let store: Arc<dyn Store> = Arc::new(sqlite);
    let channel = Arc::new(LocalInvalidation::new());

    let a = node(&store, &channel).await;
    a.bootstrap(Some(ROOT_KEY)).await.expect("bootstrap");
    let ctx = Ctx { principal: a.authenticate(ROOT_KEY).await.expect("authenticate"), request_id: "req_a".into() };
    let api_id = a.create_api(&ctx, "api".into(), false, KeyFormat::Plain).await.expect("create api");
    let create = CreateKey { api_id, enabled: true, ..Default::default() };
    let (key_id, secret) = a.create_key(&ctx, create).await.expect("create key");

    let b = node(&store, &channel).await;
    let request = VerifyRequest { key: secret.expose().to_string(), ..Default::default() };
    assert_eq!(b.verify_key(&ctx, &request).await.expect("verify").code, VerifyCode::Valid);

    a.delete_key(&ctx, &key_id, false).await.expect("delete key");
    // The other node applies the message on its own task; a bound, not a timing.
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if b.verify_key(&ctx, &request).await.expect("verify").code == VerifyCode::NotFound {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(seen.is_ok(), "the second node kept serving the deleted key from its cache");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
