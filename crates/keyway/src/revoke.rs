//! `keyway keys revoke`: revokes every key of one customer, for the operator who must cut a
//! customer off now (a leaked batch of keys, an account closed for abuse).

use crate::backends::{self, DatabaseArg};
use anyhow::Context;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use keyway_core::{Keyway, KeywayConfig, Revocation, RevokeIdentityKeys, RevokeProgress};
use keyway_limits::Ports;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Disable (or delete) every live key of the identity with this external id, in every API of
    /// the workspace, and print `{"externalId": …, "disabled" | "deleted": <count>}`. An unknown
    /// external id revokes nothing (count 0). Safe while a server runs on the same database; a
    /// running server notices within its cache TTL (10 s).
    Revoke {
        #[arg(long)]
        external_id: String,
        #[arg(long)]
        workspace: String,
        /// Soft-delete the keys instead of disabling them.
        #[arg(long)]
        delete: bool,
        /// With --delete: delete the keys for good, with their permissions, roles and limits.
        #[arg(long, requires = "delete")]
        permanent: bool,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

pub async fn run(command: KeysCommand) -> anyhow::Result<()> {
    let KeysCommand::Revoke { external_id, workspace, delete, permanent, database } = command;
    let revocation = match (delete, permanent) {
        (false, _) => Revocation::Disable,
        (true, false) => Revocation::Delete,
        (true, true) => Revocation::DeletePermanently,
    };
    let store = backends::open(&database.url).await?;
    let (keyway, running) = Keyway::start(store.clone(), Ports::local(store), None, KeywayConfig::default())
        .await
        .context("loading key hashes")?;
    let request = RevokeIdentityKeys { workspace_id: workspace, external_id, revocation };
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("revoking keys {bar:40} {pos}/{len} ({eta})").expect("a valid progress template"),
    );
    let progress = |p: RevokeProgress| {
        bar.set_length(p.total);
        bar.set_position(p.done);
    };
    let revoked = keyway.revoke_identity_keys(&request, &progress).await;
    bar.finish_and_clear();
    drop(keyway);
    running.flush().await;
    let count = revoked.context("revoking keys")?;
    let field = if revocation == Revocation::Disable { "disabled" } else { "deleted" };
    println!("{}", serde_json::json!({ "externalId": request.external_id, field: count }));
    Ok(())
}
