//! Revoking every key of one customer through the API alone: list them by external id, delete
//! each. (The operator's one-step version is `keyway keys revoke`, tested with the CLI.)

use crate::app::spawn;
use keyway_core::{CreateKey, Ctx, Revocation, RevokeIdentityKeys, RevokeProgress};
use serde_json::json;
use std::sync::Mutex;

#[tokio::test]
async fn a_customers_keys_listed_by_external_id_and_deleted_all_stop_verifying() {
    let app = spawn().await;
    let apis = [app.create_api().await, app.create_api().await];
    let mut customer = vec![];
    for api_id in apis.iter().chain(apis.iter()) {
        customer.push(app.create_key(api_id, json!({"externalId": "cust_1"})).await);
    }
    let (_, bystander) = app.create_key(&apis[0], json!({"externalId": "cust_2"})).await;

    let mut deleted = vec![];
    for api_id in &apis {
        let listed = app.call("apis.listKeys", json!({"apiId": api_id, "externalId": "cust_1"})).await;
        for key in listed.assert_ok().as_array().unwrap() {
            assert_eq!(key["identity"]["externalId"], "cust_1");
            let key_id = key["keyId"].as_str().unwrap();
            app.call("keys.deleteKey", json!({"keyId": key_id})).await.assert_ok();
            deleted.push(key_id.to_string());
        }
    }
    deleted.sort();
    let mut expected: Vec<String> = customer.iter().map(|(id, _)| id.clone()).collect();
    expected.sort();
    assert_eq!(deleted, expected, "every key of the customer, in every API");
    for (_, key) in &customer {
        assert_eq!(app.verify(key).await["code"], "NOT_FOUND");
    }
    assert_eq!(app.verify(&bystander).await["code"], "VALID", "another customer is untouched");
    for api_id in &apis {
        let listed = app.call("apis.listKeys", json!({"apiId": api_id, "externalId": "cust_1"})).await;
        assert_eq!(listed.assert_ok(), &json!([]));
    }
}

/// The operator's bulk revocation (what `keyway keys revoke` runs), in the server's own process:
/// it walks every page of a large customer, reports its progress, and the server's cache sees
/// each change at once.
#[tokio::test]
async fn operator_revocation_walks_every_page_and_reaches_this_servers_cache() {
    let app = spawn().await;
    let principal = app.keyway.authenticate(&app.root_key).await.unwrap();
    let ctx = Ctx { principal: principal.clone(), request_id: "req_test".into() };
    let apis = [app.create_api().await, app.create_api().await];
    let mut keys = vec![];
    // More than one page of the walk (500 keys), so the cursor is exercised.
    for n in 0..510 {
        let request = CreateKey {
            api_id: apis[n % 2].clone(),
            external_id: Some("big".into()),
            enabled: true,
            ..Default::default()
        };
        keys.push(app.keyway.create_key(&ctx, request).await.unwrap().1);
    }
    let (_, bystander) = app.create_key(&apis[0], json!({"externalId": "small"})).await;
    let (first, last) = (keys[0].expose(), keys[509].expose());
    assert_eq!(app.verify(first).await["code"], "VALID", "cached before the revocation");

    let seen = Mutex::new(vec![]);
    let request = RevokeIdentityKeys {
        workspace_id: principal.workspace_id().to_string(),
        external_id: "big".into(),
        revocation: Revocation::Disable,
    };
    let progress = |p: RevokeProgress| seen.lock().unwrap().push(p);
    assert_eq!(app.keyway.revoke_identity_keys(&request, &progress).await.unwrap(), 510);
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.first(), Some(&RevokeProgress { done: 0, total: 510 }));
    assert_eq!(seen.last(), Some(&RevokeProgress { done: 510, total: 510 }));
    assert!(seen.windows(2).all(|w| w[1].done == w[0].done + 1));

    assert_eq!(app.verify(first).await["code"], "DISABLED", "the cached record was dropped");
    assert_eq!(app.verify(last).await["code"], "DISABLED");
    assert_eq!(app.verify(&bystander).await["code"], "VALID");

    let request = RevokeIdentityKeys { revocation: Revocation::Delete, ..request };
    assert_eq!(app.keyway.revoke_identity_keys(&request, &|_| {}).await.unwrap(), 510);
    assert_eq!(app.verify(first).await["code"], "NOT_FOUND");
    let listed = app.call("apis.listKeys", json!({"apiId": apis[1], "externalId": "big"})).await;
    assert_eq!(listed.assert_ok(), &json!([]));
}
