//! The master key's configuration and the commands around recoverable keys: `master-key
//! generate`, `master-key rotate` and `api recoverable`.

use crate::backends;
use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use keyway_core::{Keyway, KeywayConfig, RotationProgress, rotate_master_key};
use keyway_domain::vault::MasterKey;
use keyway_limits::Ports;
use std::path::{Path, PathBuf};

/// Where the master key comes from. Never a command-line value: arguments show in `ps`.
#[derive(Debug, clap::Args)]
pub struct MasterKeyArg {
    /// A file holding the master key (base64 of 32 bytes). Instead, KEYWAY_MASTER_KEY may hold
    /// the key itself. Without either, recoverable keys are refused (412).
    #[arg(long = "master-key-file", env = "KEYWAY_MASTER_KEY_FILE")]
    pub file: Option<PathBuf>,
}

impl MasterKeyArg {
    pub fn load(&self) -> anyhow::Result<Option<MasterKey>> {
        let inline = std::env::var("KEYWAY_MASTER_KEY").ok().filter(|k| !k.trim().is_empty());
        match (&self.file, inline) {
            (Some(_), Some(_)) => bail!("set either KEYWAY_MASTER_KEY or --master-key-file, not both"),
            (Some(path), None) => read_key_file(path).map(Some),
            (None, Some(text)) => Ok(Some(MasterKey::from_base64(&text).context("KEYWAY_MASTER_KEY")?)),
            (None, None) => Ok(None),
        }
    }
}

fn read_key_file(path: &Path) -> anyhow::Result<MasterKey> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("cannot read the master key file {}", path.display()))?,
    );
    MasterKey::from_base64(&text).with_context(|| format!("master key file {}", path.display()))
}

/// Prints a fresh master key, for KEYWAY_MASTER_KEY or a key file.
pub fn generate() {
    println!("{}", MasterKey::generate().to_base64().as_str());
}

/// Rewraps every data key under the key in `new_key_file`, with a progress bar on stderr and a
/// summary on stdout.
pub async fn rotate(database_url: &str, current: &MasterKeyArg, new_key_file: &Path) -> anyhow::Result<()> {
    let current = current
        .load()?
        .context("the current master key is needed to rotate: set KEYWAY_MASTER_KEY or --master-key-file")?;
    let new = read_key_file(new_key_file)?;
    let store = backends::open(database_url).await?;
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("keyway: rewrapping data keys {bar:40} {pos}/{len} ({eta} left)")
            .expect("a valid progress template"),
    );
    let mut report = |p: RotationProgress| {
        bar.set_length(p.total);
        bar.set_position(p.rewrapped);
    };
    let summary = rotate_master_key(store.as_ref(), &current, &new, &mut report).await;
    bar.finish_and_clear();
    let summary = summary.context("rotating the master key")?;
    println!(
        "rotated master key {} -> {}: {} data key(s) rewrapped, {} already under the new key. \
         Configure the new key before the next start.",
        summary.from, summary.to, summary.rewrapped, summary.already
    );
    Ok(())
}

/// `keyway api recoverable`: prints `{"apiId": …, "recoverable": …}`.
pub async fn set_api_recoverable(database_url: &str, api_id: &str, recoverable: bool) -> anyhow::Result<()> {
    let store = backends::open(database_url).await?;
    let (keyway, running) = Keyway::start(store.clone(), Ports::local(store), None, KeywayConfig::default())
        .await
        .context("loading key hashes")?;
    let api = keyway.set_api_recoverable(api_id, recoverable).await.with_context(|| format!("API {api_id}"))?;
    drop(keyway);
    running.flush().await;
    println!("{}", serde_json::json!({ "apiId": api.id, "recoverable": api.recoverable }));
    Ok(())
}
