//! `keyway analytics seed`: fills the analytics store with realistic verification events (a few
//! keys take most of the traffic, several outcomes, tags) through the same writer the server uses,
//! for trying queries and measuring them on a known volume.

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use keyway_store::{AnalyticsStore, VerificationEvent};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Instant;

/// Events per `write_events` call, about what the usage queue hands over under load.
const BATCH: usize = 4_000;
const KEYS: usize = 1_000;
const KEY_SPACES: usize = 3;
const OUTCOMES: [(&str, u32); 6] = [
    ("VALID", 850),
    ("RATE_LIMITED", 70),
    ("USAGE_EXCEEDED", 30),
    ("INSUFFICIENT_PERMISSIONS", 20),
    ("DISABLED", 20),
    ("EXPIRED", 10),
];
const TAGS: [&str; 5] = ["env=prod", "env=staging", "path=/v1/orders", "path=/v1/users", "plan=pro"];

#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    /// How many verification events to write.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Spread them evenly over this many days up to now.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650))]
    days: u32,
    /// The workspace the events belong to.
    #[arg(long, default_value = "ws_seed")]
    workspace: String,
}

pub async fn run(store: &dyn AnalyticsStore, args: SeedArgs) -> anyhow::Result<()> {
    let now = chrono::Utc::now().timestamp_millis();
    let span = i64::from(args.days) * 86_400_000;
    let start = now - span;
    let mut rng = StdRng::seed_from_u64(args.events);
    let bar = ProgressBar::new(args.events);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} events, {per_sec}, eta {eta}").expect("a valid template"),
    );
    let began = Instant::now();
    let mut written = 0u64;
    while written < args.events {
        let n = (args.events - written).min(BATCH as u64);
        let batch: Vec<VerificationEvent> = (written..written + n)
            .map(|i| {
                // Evenly spread in time, in order, as a live server writes them.
                let time = start + (i128::from(span) * i128::from(i) / i128::from(args.events)) as i64;
                event(&mut rng, &args.workspace, i, time)
            })
            .collect();
        store.write_events(&batch, &[]).await.context("writing a batch of events")?;
        written += n;
        bar.set_position(written);
    }
    bar.finish();
    let seconds = began.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({ "events": written, "seconds": seconds, "eventsPerSecond": written as f64 / seconds })
    );
    Ok(())
}

fn event(rng: &mut StdRng, workspace: &str, i: u64, time: i64) -> VerificationEvent {
    // u³ puts about half the traffic on the first 12% of keys.
    let key = ((rng.r#gen::<f64>().powi(3)) * KEYS as f64) as usize;
    let mut pick = rng.gen_range(0..OUTCOMES.iter().map(|(_, w)| w).sum::<u32>());
    let outcome = OUTCOMES
        .iter()
        .find_map(|&(outcome, weight)| {
            if pick < weight {
                return Some(outcome);
            }
            pick -= weight;
            None
        })
        .expect("the pick is below the total weight");
    let tags = (0..rng.gen_range(0..3)).map(|_| TAGS[rng.gen_range(0..TAGS.len())].to_string()).collect();
    VerificationEvent {
        request_id: format!("req_seed{i}"),
        time,
        workspace_id: workspace.to_string(),
        key_space_id: format!("ks_seed{}", key % KEY_SPACES),
        key_id: format!("key_seed{key}"),
        identity_id: format!("id_seed{}", key / 2),
        external_id: format!("user_{}", key / 2),
        region: "local".into(),
        source: "api".into(),
        outcome: outcome.into(),
        tags,
        spent_credits: i64::from(outcome == "VALID" && key.is_multiple_of(4)),
        // Mostly sub-millisecond, with a long tail.
        latency: 0.05 + rng.r#gen::<f64>().powi(6) * 40.0,
    }
}
