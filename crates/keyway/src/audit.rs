//! `keyway audit`: the operator reads a workspace's audit log as JSON lines, and can follow it.

use crate::backends::{self, DatabaseArg};
use anyhow::Context;
use clap::Args;
use keyway_domain::time::UnixMs;
use keyway_http::AuditLogData;
use keyway_store::{AuditEvent, AuditFilter, AuditOrder, AuditPage, Store};
use std::io::Write;
use std::time::Duration;

/// Events read per query.
const BATCH: usize = 500;

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[arg(long)]
    workspace: String,
    /// Only events at or after this time: RFC 3339 (`2026-12-05T06:00:00Z`) or Unix milliseconds.
    #[arg(long, value_parser = time)]
    since: Option<UnixMs>,
    /// Only these events (`key.create`, …); repeat for several.
    #[arg(long = "event")]
    events: Vec<String>,
    /// Only events by this actor (a root key id).
    #[arg(long)]
    actor: Option<String>,
    /// Only events that touched this resource id.
    #[arg(long)]
    resource: Option<String>,
    /// Print oldest first, then keep printing new events as they are written (until interrupted).
    #[arg(long)]
    follow: bool,
    /// With --follow: seconds between two looks for new events.
    #[arg(long, default_value = "1", requires = "follow", value_parser = crate::args::seconds)]
    interval: Duration,
    #[command(flatten)]
    database: DatabaseArg,
}

/// Unix milliseconds, or an RFC 3339 time.
fn time(value: &str) -> Result<UnixMs, String> {
    if let Ok(ms) = value.parse::<UnixMs>() {
        return if ms >= 0 { Ok(ms) } else { Err("a time before 1970".into()) };
    }
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.timestamp_millis())
        .map_err(|e| format!("'{value}' is neither Unix milliseconds nor an RFC 3339 time ({e})"))
}

pub async fn run(args: AuditArgs) -> anyhow::Result<()> {
    let store = backends::open(&args.database.url).await?;
    let filter = AuditFilter {
        events: args.events,
        actor_id: args.actor,
        resource_id: args.resource,
        since: args.since,
        until: None,
    };
    let order = if args.follow { AuditOrder::OldestFirst } else { AuditOrder::NewestFirst };
    let mut page = AuditPage { after: None, order, limit: BATCH };
    loop {
        let printed = print_page(store.as_ref(), &args.workspace, &filter, &mut page).await?;
        if printed > BATCH {
            continue;
        }
        if !args.follow {
            return Ok(());
        }
        tokio::time::sleep(args.interval).await;
    }
}

/// Prints one page of events and moves `page` past them; the number read (`BATCH + 1` when more
/// are waiting).
async fn print_page(
    store: &dyn Store,
    workspace: &str,
    filter: &AuditFilter,
    page: &mut AuditPage,
) -> anyhow::Result<usize> {
    let mut events = store.read_audit_events(workspace, filter, page).await.context("reading the audit log")?;
    let read = events.len();
    events.truncate(BATCH);
    if let Some(last) = events.last() {
        page.after = Some(last.position());
    }
    let mut out = std::io::stdout().lock();
    for event in events {
        print_line(&mut out, event)?;
    }
    out.flush()?;
    Ok(read)
}

fn print_line(out: &mut impl Write, event: AuditEvent) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, &AuditLogData::from(event))?;
    writeln!(out)?;
    Ok(())
}
