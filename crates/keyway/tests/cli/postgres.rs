//! The binary on PostgreSQL: serve, credits and `workspace create` against a database of its own.
//! Runs when `KEYWAY_TEST_POSTGRES_URL` is set; under `CI=true` it must be.

use crate::support::{Server, create_workspace, root_secret, unique};
use serde_json::json;
use sqlx::{Connection, Executor, PgConnection};

/// The server named by `KEYWAY_TEST_POSTGRES_URL`, or `None` when the test is to be skipped.
fn postgres_url() -> Option<String> {
    match std::env::var("KEYWAY_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("CI=true: KEYWAY_TEST_POSTGRES_URL must be set, the PostgreSQL tests are required")
        }
        _ => {
            eprintln!("skipped: set KEYWAY_TEST_POSTGRES_URL to run the PostgreSQL CLI test");
            None
        }
    }
}

/// `url` with its database name replaced by `database` (query parameters kept).
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{server}/{database}{query}")
}

/// A database created for one test, dropped (with any connection still open) when the guard
/// goes, also when the test fails.
struct FreshDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl FreshDatabase {
    async fn create(admin_url: &str) -> FreshDatabase {
        // Lower case and `_` only: the name is used unquoted.
        let name = unique("keyway_cli").to_lowercase();
        let mut admin = PgConnection::connect(admin_url).await.expect("connect to KEYWAY_TEST_POSTGRES_URL");
        admin.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create database");
        admin.close().await.ok();
        FreshDatabase { admin_url: admin_url.to_string(), url: with_database(admin_url, &name), name }
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on; a thread with its own
        // runtime can.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await?;
                admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {dropped:?}", self.name);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_on_postgres() {
    let Some(admin_url) = postgres_url() else { return };
    let db = FreshDatabase::create(&admin_url).await;
    let secret = root_secret();
    let server = Server::start(&db.url, Some(&secret));
    let api = server.api(&secret);

    let api_id = api.create_api("pg-first").await;
    let (key_id, key) = api.create_key_with_credits(&api_id, 3).await;
    for left in [2, 1, 0] {
        let verified = api.verify(&key).await;
        assert_eq!(verified["code"], "VALID", "{verified}");
        assert_eq!(verified["credits"], left, "{verified}");
    }
    let verified = api.verify(&key).await;
    assert_eq!(verified["code"], "USAGE_EXCEEDED", "{verified}");
    assert_eq!(verified["valid"], false, "{verified}");

    // A workspace created from the CLI while the server runs on the same database.
    let (_, root_key) = create_workspace(&db.url, "pg-second");
    let second = api.with_root_key(&root_key);
    second.create_api("second").await;
    let reply = second.call("apis.getApi", json!({"apiId": api_id})).await;
    assert_eq!(reply.status, 404, "another workspace's API must be invisible: {}", reply.body);

    let done = server.terminate();
    assert!(done.status.success(), "{done:?}");
    let server = Server::start(&db.url, Some(&secret));
    assert_eq!(server.api(&secret).remaining(&key_id).await, 0);
}

#[test]
fn database_name_is_replaced_in_the_url() {
    assert_eq!(with_database("postgres://root@127.0.0.1:5432/test", "x"), "postgres://root@127.0.0.1:5432/x");
    assert_eq!(with_database("postgres://u:p@h/test?sslmode=disable", "x"), "postgres://u:p@h/x?sslmode=disable");
    assert_eq!(with_database("postgres://h:5432", "x"), "postgres://h:5432/x");
}
