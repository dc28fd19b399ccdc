//! Limit ports consulted by verification. Today: the credit ledger. Rate limiters join here.

mod credit_ledger;

pub use credit_ledger::{CreditLedger, GroupCommitLedger, LedgerError};
