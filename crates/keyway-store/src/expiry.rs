//! What the expired-key sweep (`ExpiryStore`) speaks in, and the part of a batch every adapter
//! does the same way.

use crate::AuditEvent;
use keyway_domain::key_material::KeyHash;
use keyway_domain::time::UnixMs;

/// A key the expired-key sweep deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweptKey {
    pub id: String,
    pub workspace_id: String,
    pub api_id: String,
    pub hash: KeyHash,
    pub expires: UnixMs,
}

/// A swept key as an adapter reads it back: `id, workspace_id, api_id, hash, expires`.
pub type SweptKeyColumns = (String, String, String, String, UnixMs);

/// The keys of one batch, earliest expiry first (an `UPDATE … RETURNING` has no order of its
/// own), and the audit event of each, to write in the batch's transaction.
pub fn sweep_batch(
    rows: Vec<SweptKeyColumns>,
    event_for: &(dyn for<'k> Fn(&'k SweptKey) -> AuditEvent + Sync),
) -> (Vec<SweptKey>, Vec<AuditEvent>) {
    let mut swept: Vec<SweptKey> = rows
        .into_iter()
        .map(|(id, workspace_id, api_id, hash, expires)| SweptKey {
            id,
            workspace_id,
            api_id,
            hash: KeyHash::from_stored(hash),
            expires,
        })
        .collect();
    swept.sort_by(|a, b| (a.expires, &a.id).cmp(&(b.expires, &b.id)));
    let events = swept.iter().map(event_for).collect();
    (swept, events)
}
