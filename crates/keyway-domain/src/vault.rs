//! Envelope encryption for recoverable keys (reference §7.5), as pure functions.
//!
//! A master key (from configuration, never stored) wraps one data key per workspace; each data
//! key encrypts that workspace's recoverable plaintexts. Both layers are XChaCha20-Poly1305 with a
//! random 24-byte nonce (large enough that random nonces never collide in practice), and each
//! layer's associated data names what the ciphertext belongs to, so a row copied onto another
//! key, workspace or data key fails to decrypt instead of yielding someone else's secret.
//!
//! Stored form of both layers: `VERSION || nonce (24 bytes) || ciphertext with its 16-byte tag`.

use crate::key_material::Secret;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use std::fmt;
use thiserror::Error;
use zeroize::{Zeroize, Zeroizing};

/// The layout version of a sealed value; a new scheme gets a new byte so old rows stay readable.
const VERSION: u8 = 1;
const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;
const TAG_BYTES: usize = 16;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum VaultError {
    #[error("the master key must be base64 of exactly 32 bytes")]
    MasterKeyFormat,
    /// Wrong key, tampered ciphertext, or a ciphertext that belongs to another row. Deliberately
    /// one case: telling them apart would help nobody but an attacker.
    #[error("decryption failed: wrong key or the ciphertext was altered or moved")]
    Decrypt,
    #[error("the stored ciphertext has an unknown format")]
    Format,
}

/// A 32-byte secret key, wiped from memory when dropped.
#[derive(Clone)]
struct KeyBytes(Zeroizing<[u8; KEY_BYTES]>);

impl KeyBytes {
    fn random() -> Self {
        let mut bytes = Zeroizing::new([0u8; KEY_BYTES]);
        OsRng.fill_bytes(bytes.as_mut());
        KeyBytes(bytes)
    }

    fn from_slice(slice: &[u8]) -> Option<Self> {
        let array: [u8; KEY_BYTES] = slice.try_into().ok()?;
        Some(KeyBytes(Zeroizing::new(array)))
    }

    fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new(self.0.as_ref().into());
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad })
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory inputs");
        let mut out = Vec::with_capacity(1 + NONCE_BYTES + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    fn open(&self, aad: &[u8], stored: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        if stored.len() < 1 + NONCE_BYTES + TAG_BYTES || stored[0] != VERSION {
            return Err(VaultError::Format);
        }
        let (nonce, sealed) = stored[1..].split_at(NONCE_BYTES);
        let cipher = XChaCha20Poly1305::new(self.0.as_ref().into());
        cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad })
            .map(Zeroizing::new)
            .map_err(|_| VaultError::Decrypt)
    }
}

/// The key-encryption key. Only its [`MasterKey::id`] is ever stored.
#[derive(Clone)]
pub struct MasterKey(KeyBytes);

impl MasterKey {
    /// Parses the configured form: standard base64 (padded or not) of 32 bytes, surrounding
    /// whitespace ignored so a key file may end with a newline.
    pub fn from_base64(text: &str) -> Result<Self, VaultError> {
        let trimmed = text.trim();
        let decoded = Zeroizing::new(
            STANDARD
                .decode(trimmed)
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
                .map_err(|_| VaultError::MasterKeyFormat)?,
        );
        KeyBytes::from_slice(&decoded).map(MasterKey).ok_or(VaultError::MasterKeyFormat)
    }

    /// A fresh random master key, as `keyway master-key generate` would print it.
    pub fn generate() -> Self {
        MasterKey(KeyBytes::random())
    }

    /// The base64 form that [`MasterKey::from_base64`] reads.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0.0.as_ref()))
    }

    /// A fingerprint naming this key in storage and messages (`mk_` + 16 hex digits of a
    /// domain-separated SHA-256). It identifies the key without helping to guess it.
    pub fn id(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"keyway master key id v1\0");
        hasher.update(self.0.0.as_ref());
        let digest = hasher.finalize();
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("mk_{hex}")
    }

    /// Encrypts a data key, bound to its workspace and id.
    pub fn wrap(&self, data_key: &DataKey, workspace_id: &str, data_key_id: &str) -> Vec<u8> {
        self.0.seal(&data_key_aad(workspace_id, data_key_id), data_key.0.0.as_ref())
    }

    /// Decrypts a data key wrapped by [`MasterKey::wrap`] for the same workspace and id.
    pub fn unwrap(&self, wrapped: &[u8], workspace_id: &str, data_key_id: &str) -> Result<DataKey, VaultError> {
        let bytes = self.0.open(&data_key_aad(workspace_id, data_key_id), wrapped)?;
        KeyBytes::from_slice(&bytes).map(DataKey).ok_or(VaultError::Format)
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({})", self.id())
    }
}

/// A workspace's data-encryption key, in the clear only in memory.
#[derive(Clone)]
pub struct DataKey(KeyBytes);

impl DataKey {
    pub fn generate() -> Self {
        DataKey(KeyBytes::random())
    }

    /// Encrypts a key's plaintext, bound to the key's id and workspace.
    pub fn seal(&self, plaintext: &Secret, workspace_id: &str, key_id: &str) -> Vec<u8> {
        self.0.seal(&key_aad(workspace_id, key_id), plaintext.expose().as_bytes())
    }

    /// Decrypts what [`DataKey::seal`] produced for the same key id and workspace.
    pub fn open(&self, sealed: &[u8], workspace_id: &str, key_id: &str) -> Result<Secret, VaultError> {
        let mut bytes = self.0.open(&key_aad(workspace_id, key_id), sealed)?;
        let text = String::from_utf8(std::mem::take(&mut *bytes)).map_err(|e| {
            e.into_bytes().zeroize();
            VaultError::Format
        })?;
        Ok(Secret::new(text))
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// Length-prefixed parts, so `("ab", "c")` and `("a", "bc")` never give the same associated data.
fn aad(purpose: &str, parts: &[&str]) -> Vec<u8> {
    let mut out = Vec::from(purpose.as_bytes());
    for part in parts {
        out.extend_from_slice(&(part.len() as u32).to_be_bytes());
        out.extend_from_slice(part.as_bytes());
    }
    out
}

fn data_key_aad(workspace_id: &str, data_key_id: &str) -> Vec<u8> {
    aad("keyway data key v1", &[workspace_id, data_key_id])
}

fn key_aad(workspace_id: &str, key_id: &str) -> Vec<u8> {
    aad("keyway recoverable key v1", &[workspace_id, key_id])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secret() -> Secret {
        Secret::new("sk_3ZdXq9Yh2vWm")
    }

    #[test]
    fn a_key_round_trips_through_both_layers() {
        let master = MasterKey::generate();
        let data = DataKey::generate();
        let wrapped = master.wrap(&data, "ws_1", "dk_1");
        let unwrapped = master.unwrap(&wrapped, "ws_1", "dk_1").unwrap();
        let sealed = data.seal(&secret(), "ws_1", "key_1");
        assert_eq!(unwrapped.open(&sealed, "ws_1", "key_1").unwrap(), secret());
    }

    #[test]
    fn sealing_twice_gives_different_ciphertexts() {
        let data = DataKey::generate();
        assert_ne!(data.seal(&secret(), "ws_1", "key_1"), data.seal(&secret(), "ws_1", "key_1"));
    }

    #[test]
    fn a_wrong_master_key_cannot_unwrap() {
        let wrapped = MasterKey::generate().wrap(&DataKey::generate(), "ws_1", "dk_1");
        assert_eq!(MasterKey::generate().unwrap(&wrapped, "ws_1", "dk_1").unwrap_err(), VaultError::Decrypt);
    }

    #[test]
    fn a_wrong_data_key_cannot_open() {
        let sealed = DataKey::generate().seal(&secret(), "ws_1", "key_1");
        assert_eq!(DataKey::generate().open(&sealed, "ws_1", "key_1").unwrap_err(), VaultError::Decrypt);
    }

    #[test]
    fn a_ciphertext_moved_to_another_key_or_workspace_fails() {
        let data = DataKey::generate();
        let sealed = data.seal(&secret(), "ws_1", "key_1");
        assert_eq!(data.open(&sealed, "ws_1", "key_2").unwrap_err(), VaultError::Decrypt);
        assert_eq!(data.open(&sealed, "ws_2", "key_1").unwrap_err(), VaultError::Decrypt);
        // Length prefixes keep the boundary between the parts significant.
        assert_eq!(data.open(&sealed, "ws_1k", "ey_1").unwrap_err(), VaultError::Decrypt);
    }

    #[test]
    fn a_data_key_moved_to_another_workspace_fails() {
        let master = MasterKey::generate();
        let wrapped = master.wrap(&DataKey::generate(), "ws_1", "dk_1");
        assert_eq!(master.unwrap(&wrapped, "ws_2", "dk_1").unwrap_err(), VaultError::Decrypt);
        assert_eq!(master.unwrap(&wrapped, "ws_1", "dk_2").unwrap_err(), VaultError::Decrypt);
    }

    #[test]
    fn truncated_or_unknown_formats_are_refused() {
        let data = DataKey::generate();
        let mut sealed = data.seal(&secret(), "ws_1", "key_1");
        assert_eq!(data.open(&sealed[..20], "ws_1", "key_1").unwrap_err(), VaultError::Format);
        sealed[0] = 9;
        assert_eq!(data.open(&sealed, "ws_1", "key_1").unwrap_err(), VaultError::Format);
    }

    #[test]
    fn the_master_key_parses_from_base64_only_at_32_bytes() {
        let key = MasterKey::generate();
        let encoded = key.to_base64();
        let parsed = MasterKey::from_base64(&format!("{}\n", encoded.as_str())).unwrap();
        assert_eq!(parsed.id(), key.id());
        let unpadded = encoded.trim_end_matches('=');
        assert_eq!(MasterKey::from_base64(unpadded).unwrap().id(), key.id());
        assert_eq!(MasterKey::from_base64(&STANDARD.encode([0u8; 16])).unwrap_err(), VaultError::MasterKeyFormat);
        assert_eq!(MasterKey::from_base64("not base64!").unwrap_err(), VaultError::MasterKeyFormat);
    }

    #[test]
    fn the_master_key_id_is_stable_and_distinct_and_debug_shows_only_it() {
        let key = MasterKey::from_base64(&STANDARD.encode([7u8; 32])).unwrap();
        assert_eq!(key.id(), MasterKey::from_base64(&STANDARD.encode([7u8; 32])).unwrap().id());
        assert_ne!(key.id(), MasterKey::generate().id());
        assert!(key.id().starts_with("mk_") && key.id().len() == 19);
        assert_eq!(format!("{key:?}"), format!("MasterKey({})", key.id()));
        assert_eq!(format!("{:?}", DataKey::generate()), "DataKey(<redacted>)");
    }

    proptest! {
        #[test]
        fn any_plaintext_round_trips_and_any_flipped_bit_is_detected(
            plaintext in "[ -~]{0,300}", index in any::<usize>(), bit in 0u8..8,
        ) {
            let data = DataKey::generate();
            let mut sealed = data.seal(&Secret::new(plaintext.clone()), "ws", "key");
            let opened = data.open(&sealed, "ws", "key").unwrap();
            prop_assert_eq!(opened.expose(), plaintext.as_str());
            let i = 1 + index % (sealed.len() - 1);
            sealed[i] ^= 1 << bit;
            prop_assert_eq!(data.open(&sealed, "ws", "key").unwrap_err(), VaultError::Decrypt);
        }
    }
}
