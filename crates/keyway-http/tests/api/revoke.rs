//! Revoking every key of one customer through the API alone: list them by external id, delete
//! each. (The operator's one-step version is `keyway keys revoke`, tested with the CLI.)

use crate::app::spawn;
use serde_json::json;

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
