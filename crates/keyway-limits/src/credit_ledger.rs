//! Credits are exact and durable: a spend is answered only after the transaction that made it has
//! committed. To keep that cheap, concurrent spends are group-committed: while one batch commits,
//! the next requests queue up and are written together in the following transaction.

use async_trait::async_trait;
use keyway_store::{CreditStore, SpendOutcome, SpendRequest, StoreError};
use std::sync::Arc;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// The most spends written in one transaction.
const MAX_BATCH: usize = 1024;
/// Spends waiting for their batch. Callers wait for room rather than being refused.
const QUEUE_DEPTH: usize = 16 * 1024;

#[derive(Debug, Error)]
pub enum LedgerError {
    #[error("credit store failed")]
    Store(#[from] StoreError),
    #[error("credit ledger is shut down")]
    Closed,
}

/// Spends credits of keys.
#[async_trait]
pub trait CreditLedger: Send + Sync {
    /// Spends `cost` credits of a key, atomically against every other spend. `Ok` means durable.
    async fn spend(&self, key_id: &str, cost: i64) -> Result<SpendOutcome, LedgerError>;
}

struct Job {
    request: SpendRequest,
    reply: oneshot::Sender<Result<SpendOutcome, LedgerError>>,
}

/// A ledger over a [`CreditStore`] that writes queued spends in batches.
pub struct GroupCommitLedger {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommitLedger {
    /// Starts the committer task. It ends, after writing every queued spend, once the ledger and
    /// all its clones are dropped; await the handle to flush on shutdown.
    pub fn start(store: Arc<dyn CreditStore>) -> (Self, JoinHandle<()>) {
        let (jobs, rx) = mpsc::channel(QUEUE_DEPTH);
        let handle = tokio::spawn(commit_loop(store, rx));
        (GroupCommitLedger { jobs }, handle)
    }
}

#[async_trait]
impl CreditLedger for GroupCommitLedger {
    async fn spend(&self, key_id: &str, cost: i64) -> Result<SpendOutcome, LedgerError> {
        let (reply, answer) = oneshot::channel();
        let job = Job { request: SpendRequest { key_id: key_id.to_string(), cost }, reply };
        self.jobs.send(job).await.map_err(|_| LedgerError::Closed)?;
        answer.await.map_err(|_| LedgerError::Closed)?
    }
}

async fn commit_loop(store: Arc<dyn CreditStore>, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let requests: Vec<SpendRequest> = batch.iter().map(|j| j.request.clone()).collect();
        match store.spend_credits(&requests).await {
            Ok(outcomes) => {
                for (job, outcome) in batch.drain(..).zip(outcomes) {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                // Nothing of the batch committed: every caller learns that its spend failed.
                tracing::error!(error = %e, spends = batch.len(), "credit batch failed");
                let e = Arc::new(e);
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(LedgerError::Store(StoreError::shared(&e))));
                }
            }
        }
    }
}
