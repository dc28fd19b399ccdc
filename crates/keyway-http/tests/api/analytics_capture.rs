//! Analytics events over HTTP: verification tags reach the event, and `X-Unkey-Metrics: disabled`
//! suppresses the event of `ratelimit.limit` (and only there, as in Unkey).

use crate::app::spawn_with_analytics;
use async_trait::async_trait;
use keyway_store::{AnalyticsStore, AnalyticsTable, RatelimitEvent, StoreResult, VerificationEvent};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Recorder {
    verifications: Mutex<Vec<VerificationEvent>>,
    ratelimits: Mutex<Vec<RatelimitEvent>>,
}

#[async_trait]
impl AnalyticsStore for Recorder {
    async fn write_events(
        &self,
        verifications: &[VerificationEvent],
        ratelimits: &[RatelimitEvent],
    ) -> StoreResult<()> {
        self.verifications.lock().unwrap().extend_from_slice(verifications);
        self.ratelimits.lock().unwrap().extend_from_slice(ratelimits);
        Ok(())
    }

    /// Keeps nothing per aggregate table: only the raw events are recorded.
    async fn delete_before(&self, table: AnalyticsTable, cutoff: i64) -> StoreResult<u64> {
        let removed = match table {
            AnalyticsTable::Verifications(None) => {
                let mut events = self.verifications.lock().unwrap();
                let before = events.len();
                events.retain(|e| e.time >= cutoff);
                before - events.len()
            }
            AnalyticsTable::Ratelimits(None) => {
                let mut events = self.ratelimits.lock().unwrap();
                let before = events.len();
                events.retain(|e| e.time >= cutoff);
                before - events.len()
            }
            _ => 0,
        };
        Ok(removed as u64)
    }
}

impl Recorder {
    /// Waits (boundedly) until `done` holds: the queue is written once per second.
    async fn until(&self, done: impl Fn(&Recorder) -> bool) {
        let reached = tokio::time::timeout(Duration::from_secs(10), async {
            while !done(self) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(reached.is_ok(), "the events never arrived");
    }
}

#[tokio::test]
async fn verification_events_carry_the_request_id_and_tags() {
    let recorder = Arc::new(Recorder::default());
    let app = spawn_with_analytics(recorder.clone()).await;
    let api_id = app.create_api().await;
    let (key_id, key) = app.create_key(&api_id, json!({"externalId": "acme"})).await;
    let reply = app.call("keys.verifyKey", json!({"key": key, "tags": ["route=/v1/x"]})).await;
    assert_eq!(reply.assert_ok()["code"], "VALID");
    let request_id = reply.body["meta"]["requestId"].as_str().unwrap().to_string();
    recorder.until(|r| !r.verifications.lock().unwrap().is_empty()).await;
    let event = recorder.verifications.lock().unwrap()[0].clone();
    assert_eq!((event.request_id, event.key_id, event.external_id), (request_id, key_id.clone(), "acme".into()));
    assert_eq!((event.outcome.as_str(), event.tags), ("VALID", vec!["route=/v1/x".to_string()]));
    // The same queue keeps lastUsedAt, which getKey returns.
    let mut last_used = None;
    for _ in 0..500 {
        last_used = app.call("keys.getKey", json!({"keyId": key_id})).await.assert_ok()["lastUsedAt"].as_i64();
        if last_used.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(last_used, Some(event.time));
}

#[tokio::test]
async fn the_metrics_header_suppresses_the_limit_event() {
    let recorder = Arc::new(Recorder::default());
    let app = spawn_with_analytics(recorder.clone()).await;
    let limit = |identifier: &str| json!({"namespace": "ns", "identifier": identifier, "limit": 5, "duration": 60000});
    let suppressed = app
        .client
        .post(format!("{}/v2/ratelimit.limit", app.base))
        .bearer_auth(&app.root_key)
        .header("X-Unkey-Metrics", "disabled")
        .json(&limit("hidden"));
    assert_eq!(app.raw(suppressed).await.assert_ok()["success"], true);
    let multi = app
        .client
        .post(format!("{}/v2/ratelimit.multiLimit", app.base))
        .bearer_auth(&app.root_key)
        .header("X-Unkey-Metrics", "disabled")
        .json(&json!([limit("multi_a"), limit("multi_b")]));
    assert_eq!(app.raw(multi).await.assert_ok()["passed"], true);
    app.call("ratelimit.limit", limit("shown")).await.assert_ok();
    // Events are queued in order, so once the last one is written the others would have been.
    recorder.until(|r| r.ratelimits.lock().unwrap().iter().any(|e| e.identifier == "shown")).await;
    let identifiers: Vec<String> = recorder.ratelimits.lock().unwrap().iter().map(|e| e.identifier.clone()).collect();
    assert_eq!(identifiers, ["multi_a", "multi_b", "shown"]);
}
