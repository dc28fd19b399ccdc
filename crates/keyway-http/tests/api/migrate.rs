//! `keys.migrateKeys`, `migrations.createMigration`, and verifications that rehash imported keys.

use crate::app::{TestApp, spawn};
use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Argon2, Params};
use keyway_domain::key_material::KeyHash;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

async fn create_migration(app: &TestApp, algorithm: &str) -> String {
    let reply = app.call("migrations.createMigration", json!({"algorithm": algorithm})).await;
    let id = reply.assert_ok()["migrationId"].as_str().unwrap().to_string();
    assert!(id.starts_with("mig_"), "{id}");
    id
}

async fn migrate(app: &TestApp, migration_id: &str, api_id: &str, keys: Value) -> Value {
    let reply = app.call("keys.migrateKeys", json!({"migrationId": migration_id, "apiId": api_id, "keys": keys})).await;
    reply.assert_ok().clone()
}

async fn verify_with(app: &TestApp, key: &str, migration_id: &str) -> Value {
    app.call("keys.verifyKey", json!({"key": key, "migrationId": migration_id})).await.assert_ok().clone()
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Low cost parameters keep the tests fast; verification uses whatever the hash says.
fn argon2id(key: &str) -> String {
    let hasher = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, Params::new(64, 1, 1, None).unwrap());
    hasher
        .hash_password(key.as_bytes(), &SaltString::generate(&mut argon2::password_hash::rand_core::OsRng))
        .unwrap()
        .to_string()
}

async fn workspace_id(app: &TestApp) -> String {
    app.keyway.authenticate(&app.root_key).await.unwrap().workspace_id().to_string()
}

fn only_key_id(data: &Value) -> String {
    assert_eq!(data["migrated"].as_array().unwrap().len(), 1, "{data}");
    data["migrated"][0]["keyId"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn sha256_hashes_in_base64_or_hex_verify_directly() {
    let app = spawn().await;
    let api = app.create_api().await;
    let migration = create_migration(&app, "sha256").await;
    let (b64, lower, upper) = ("mig_key_one", "mig_key_two", "mig_key_three");
    let given = [KeyHash::of(b64).as_str().to_string(), sha256_hex(lower), sha256_hex(upper).to_uppercase()];
    let data =
        migrate(&app, &migration, &api, json!(given.iter().map(|h| json!({"hash": h})).collect::<Vec<_>>())).await;
    let migrated = data["migrated"].as_array().unwrap();
    assert_eq!(migrated.len(), 3, "{data}");
    for (entry, hash) in migrated.iter().zip(&given) {
        assert_eq!(entry["hash"], hash.as_str(), "the hash is echoed as given");
    }
    assert_eq!(data["failed"], json!([]), "Unkey answers null, which its SDKs refuse: {data}");
    for (key, entry) in [b64, lower, upper].iter().zip(migrated) {
        let verified = app.verify(key).await;
        assert_eq!(verified["valid"], true, "{key}: {verified}");
        assert_eq!(verified["keyId"], entry["keyId"]);
    }
    let key = app.call("keys.getKey", json!({"keyId": migrated[0]["keyId"]})).await;
    assert_eq!(key.assert_ok()["start"], "");
}

#[tokio::test]
async fn prefixed_api_keys_are_rehashed_on_the_first_verification_naming_the_migration() {
    let app = spawn().await;
    let api = app.create_api().await;
    let migration = create_migration(&app, "github.com/seamapi/prefixed-api-key").await;
    let key = "re_live_BRTRKFsL_51FwqftsmMDHHbJAMEXXHCgG";
    let data =
        migrate(&app, &migration, &api, json!([{"hash": sha256_hex("51FwqftsmMDHHbJAMEXXHCgG"), "name": "resend"}]))
            .await;
    let key_id = only_key_id(&data);

    assert_eq!(app.verify(key).await["code"], "NOT_FOUND", "pending keys need the migration");
    let wrong = verify_with(&app, "re_live_BRTRKFsL_somethingelse", &migration).await;
    assert_eq!(wrong["code"], "NOT_FOUND");
    let first = verify_with(&app, key, &migration).await;
    assert_eq!(first["valid"], true, "{first}");
    assert_eq!(first["keyId"], key_id.as_str());
    assert_eq!(first["name"], "resend");
    let after = app.verify(key).await;
    assert_eq!(after["valid"], true, "rehashed keys verify without migrationId: {after}");
    let got = app.call("keys.getKey", json!({"keyId": key_id})).await;
    assert_eq!(got.assert_ok()["start"], "re_live_BRTR");

    let malformed = app.call("keys.verifyKey", json!({"key": "nounderscores", "migrationId": migration})).await;
    malformed.assert_error(400, "unkey/authentication/malformed");
    assert_eq!(malformed.body["error"]["detail"], "Invalid key format");
}

/// bcrypt and argon2 keys are found by `start` and proven with the customer's hash.
async fn rehash_by_start(algorithm: &str, hash_of: fn(&str) -> String) {
    let app = spawn().await;
    let api = app.create_api().await;
    let migration = create_migration(&app, algorithm).await;
    let key = "sk_live_Ab3dEfGh1jKlMnOp";
    let twin = "sk_live_Ab3dZZZZZZZZZZZZ";
    let data = migrate(
        &app,
        &migration,
        &api,
        json!([
            {"hash": hash_of(key), "start": "sk_live_Ab3d", "permissions": ["docs.read"]},
            {"hash": hash_of(twin), "start": "sk_live_Ab3d"},
        ]),
    )
    .await;
    let key_id = data["migrated"][0]["keyId"].as_str().unwrap().to_string();

    assert_eq!(app.verify(key).await["code"], "NOT_FOUND", "{algorithm}: pending keys need the migration");
    let wrong = verify_with(&app, "sk_live_Ab3dWRONGWRONGWRONG", &migration).await;
    assert_eq!(wrong["code"], "NOT_FOUND", "{algorithm}");
    let first = app
        .call("keys.verifyKey", json!({"key": key, "migrationId": migration, "permissions": "docs.read"}))
        .await
        .assert_ok()
        .clone();
    assert_eq!(first["valid"], true, "{algorithm}: {first}");
    assert_eq!(first["keyId"], key_id.as_str());
    let after = app.verify(key).await;
    assert_eq!(after["valid"], true, "{algorithm}: rehashed keys verify without migrationId: {after}");
    let got = app.call("keys.getKey", json!({"keyId": key_id})).await;
    assert_eq!(got.assert_ok()["start"], "sk_live_Ab3d", "{algorithm}");
    // The other key with the same start is still pending, and still migrates.
    assert_eq!(app.verify(twin).await["code"], "NOT_FOUND", "{algorithm}");
    assert_eq!(verify_with(&app, twin, &migration).await["valid"], true, "{algorithm}");
    assert_eq!(app.verify(twin).await["valid"], true, "{algorithm}");
}

#[tokio::test]
async fn bcrypt_keys_are_rehashed_on_the_first_verification_naming_the_migration() {
    rehash_by_start("bcrypt", |key| bcrypt::hash(key, 4).unwrap()).await;
}

#[tokio::test]
async fn argon2_keys_are_rehashed_on_the_first_verification_naming_the_migration() {
    rehash_by_start("argon2", argon2id).await;
}

#[tokio::test]
async fn existing_deleted_and_repeated_hashes_are_reported_in_failed() {
    let app = spawn().await;
    let api = app.create_api().await;
    let (_, live) = app.create_key(&api, json!({})).await;
    let (deleted_id, deleted) = app.create_key(&api, json!({})).await;
    app.call("keys.deleteKey", json!({"keyId": deleted_id})).await.assert_ok();
    let migration = create_migration(&app, "sha256").await;
    let fresh = KeyHash::of("fresh_key").as_str().to_string();
    let live_hash = KeyHash::of(&live).as_str().to_string();
    let deleted_hash = sha256_hex(&deleted);
    let data = migrate(
        &app,
        &migration,
        &api,
        json!([{"hash": fresh}, {"hash": live_hash}, {"hash": deleted_hash}, {"hash": sha256_hex("fresh_key")}]),
    )
    .await;
    assert_eq!(data["migrated"].as_array().unwrap().len(), 1, "{data}");
    assert_eq!(data["migrated"][0]["hash"], fresh.as_str());
    assert_eq!(data["failed"], json!([live_hash, deleted_hash, sha256_hex("fresh_key")]));
    assert_eq!(app.verify("fresh_key").await["valid"], true);
}

#[tokio::test]
async fn identities_permissions_and_roles_are_created_and_audited() {
    let app = spawn().await;
    let api = app.create_api().await;
    let migration = create_migration(&app, "sha256").await;
    let data = migrate(
        &app,
        &migration,
        &api,
        json!([{
            "hash": KeyHash::of("rich_key").as_str(),
            "externalId": "customer_1",
            "permissions": ["docs.read"],
            "roles": ["reader"],
            "meta": {"plan": "pro"},
            "credits": {"remaining": 5},
            "ratelimits": [{"name": "requests", "limit": 10, "duration": 60000, "autoApply": true}],
        }]),
    )
    .await;
    let key_id = only_key_id(&data);
    let verified =
        app.call("keys.verifyKey", json!({"key": "rich_key", "permissions": "docs.read"})).await.assert_ok().clone();
    assert_eq!(verified["valid"], true, "{verified}");
    assert_eq!(verified["identity"]["externalId"], "customer_1");
    assert_eq!(verified["roles"], json!(["reader"]));
    assert_eq!(verified["credits"], 4);
    app.call("permissions.getRole", json!({"role": "reader"})).await.assert_ok();

    let events = app.store.list_audit_events(&workspace_id(&app).await, 1000).await.unwrap();
    let descriptions: Vec<&str> = events.iter().map(|e| e.description.as_str()).collect();
    assert!(
        descriptions.contains(&format!("Created key {key_id} in migration {migration}").as_str()),
        "{descriptions:?}"
    );
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    for kind in [
        "role.create",
        "permission.create",
        "authorization.connect_role_and_key",
        "authorization.connect_permission_and_key",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
}

#[tokio::test]
async fn bad_requests_are_400s_naming_what_is_wrong() {
    let app = spawn().await;
    let api = app.create_api().await;
    let sha = create_migration(&app, "sha256").await;
    let bcrypt_migration = create_migration(&app, "bcrypt").await;
    let call = |migration: &str, keys: Value| {
        app.call("keys.migrateKeys", json!({"migrationId": migration, "apiId": api, "keys": keys}))
    };

    let many: Vec<Value> = (0..101).map(|n| json!({"hash": KeyHash::of(&format!("k{n}")).as_str()})).collect();
    let reply = call(&sha, json!(many)).await;
    reply.assert_error(400, "unkey/application/invalid_input");
    assert_eq!(reply.body["error"]["errors"][0]["location"], "/properties/keys/maxItems", "{}", reply.body);
    call(&sha, json!([])).await.assert_error(400, "unkey/application/invalid_input");

    let reply = call(&sha, json!([{"hash": "not-a-digest"}])).await;
    reply.assert_error(400, "unkey/application/invalid_input");
    assert!(
        reply.body["error"]["detail"].as_str().unwrap().starts_with("keys[0]: hash 'not-a-digest'"),
        "{}",
        reply.body
    );
    let reply = call(&bcrypt_migration, json!([{"hash": bcrypt::hash("k", 4).unwrap()}])).await;
    reply.assert_error(400, "unkey/application/invalid_input");
    assert!(reply.body["error"]["detail"].as_str().unwrap().contains("`start` is required"), "{}", reply.body);
    let reply = call(&bcrypt_migration, json!([{"hash": "$2b$04$short", "start": "abcd"}])).await;
    reply.assert_error(400, "unkey/application/invalid_input");

    let reply = app.call("migrations.createMigration", json!({"algorithm": "md5"})).await;
    reply.assert_error(400, "unkey/application/invalid_input");
    assert_eq!(reply.body["error"]["errors"][0]["location"], "/properties/algorithm/enum");

    // Nothing of a refused call was written.
    assert_eq!(app.verify("k0").await["code"], "NOT_FOUND");
}

#[tokio::test]
async fn unknown_or_foreign_apis_and_migrations_are_404s() {
    let app = spawn().await;
    let api = app.create_api().await;
    let migration = create_migration(&app, "sha256").await;
    let keys = json!([{"hash": KeyHash::of("k").as_str()}]);

    let reply = app.call("keys.migrateKeys", json!({"migrationId": "mig_unknown", "apiId": api, "keys": keys})).await;
    reply.assert_error(404, "unkey/data/migration_not_found");
    assert_eq!(reply.body["error"]["detail"], "The requested Migration does not exist or has been deleted.");
    let reply =
        app.call("keys.migrateKeys", json!({"migrationId": migration, "apiId": "api_unknown", "keys": keys})).await;
    reply.assert_error(404, "unkey/data/api_not_found");
    assert_eq!(reply.body["error"]["detail"], "The requested API does not exist or has been deleted.");

    let stranger = app.other_workspace_root_key().await;
    let reply =
        app.call_as(&stranger, "keys.migrateKeys", json!({"migrationId": migration, "apiId": api, "keys": keys})).await;
    reply.assert_error(404, "unkey/data/api_not_found");
    let stranger_api = app.call_as(&stranger, "apis.createApi", json!({"name": "theirs"})).await;
    let stranger_api = stranger_api.assert_ok()["apiId"].as_str().unwrap().to_string();
    let reply = app
        .call_as(&stranger, "keys.migrateKeys", json!({"migrationId": migration, "apiId": stranger_api, "keys": keys}))
        .await;
    reply.assert_error(404, "unkey/data/migration_not_found");
    // A verification naming another workspace's migration finds nothing either.
    let reply = app.call_as(&stranger, "keys.verifyKey", json!({"key": "k", "migrationId": migration})).await;
    assert_eq!(reply.assert_ok()["code"], "NOT_FOUND");
}

#[tokio::test]
async fn migrate_keys_needs_create_key_by_tuple() {
    let app = spawn().await;
    let api = app.create_api().await;
    let other_api = app.create_api().await;
    let migration = create_migration(&app, "sha256").await;
    let body = |n: usize| json!({"migrationId": migration, "apiId": api, "keys": [{"hash": KeyHash::of(&format!("perm_{n}")).as_str()}]});
    let ws = workspace_id(&app).await;
    for denied in [
        vec![],
        vec![format!("api.{other_api}.create_key")],
        vec![format!("unkey:v1:{ws}:keyspaces/*#create_key")],
        vec!["api.*.verify_key".to_string()],
    ] {
        let key = app.root_key_with(&denied.iter().map(String::as_str).collect::<Vec<_>>()).await;
        let reply = app.call_as(&key, "keys.migrateKeys", body(0)).await;
        reply.assert_error(403, "unkey/authorization/insufficient_permissions");
    }
    for (n, allowed) in [format!("api.{api}.create_key"), "api.*.create_key".to_string()].iter().enumerate() {
        let key = app.root_key_with(&[allowed]).await;
        app.call_as(&key, "keys.migrateKeys", body(n + 1)).await.assert_ok();
    }

    let narrow = app.root_key_with(&[&format!("api.{api}.create_key")]).await;
    let reply = app.call_as(&narrow, "migrations.createMigration", json!({"algorithm": "bcrypt"})).await;
    reply.assert_error(403, "unkey/authorization/insufficient_permissions");
    let wide = app.root_key_with(&["api.*.create_key"]).await;
    app.call_as(&wide, "migrations.createMigration", json!({"algorithm": "bcrypt"})).await.assert_ok();
}

/// Another node rehashed the key: this node's filter of known hashes never saw the new hash, and
/// a verification naming the migration still finds it.
#[tokio::test]
async fn a_key_rehashed_elsewhere_verifies_with_the_migration() {
    let app = spawn().await;
    let api = app.create_api().await;
    let migration = create_migration(&app, "github.com/seamapi/prefixed-api-key").await;
    let key = "pk_live_Elsewhere_LongTokenValue";
    let data = migrate(&app, &migration, &api, json!([{"hash": sha256_hex("LongTokenValue")}])).await;
    let key_id = only_key_id(&data);
    assert_eq!(app.verify(key).await["code"], "NOT_FOUND");

    let completed = keyway_store::CompletedMigration {
        key_id: key_id.clone(),
        migration_id: migration.clone(),
        hash: KeyHash::of(key),
        start: "pk_live_Else".into(),
        updated_at: 1,
    };
    assert!(app.store.complete_migration(&completed, &[]).await.unwrap());

    let verified = verify_with(&app, key, &migration).await;
    assert_eq!(verified["valid"], true, "{verified}");
    assert_eq!(verified["keyId"], key_id.as_str());
    assert_eq!(app.verify(key).await["valid"], true, "learned: no migrationId needed any more");
}
