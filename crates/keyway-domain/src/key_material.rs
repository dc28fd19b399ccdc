//! Key material: generation, the stored hash, and the display fragments (reference §7.1, §7.3).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// Accepted `byteLength` for generated keys.
pub const MIN_BYTE_LENGTH: usize = 16;
pub const MAX_BYTE_LENGTH: usize = 255;
pub const DEFAULT_BYTE_LENGTH: usize = 16;

/// Root keys look like `kwroot_<base58>`; the prefix tells an operator what leaked.
pub const ROOT_KEY_PREFIX: &str = "kwroot";
pub const ROOT_KEY_BYTES: usize = 24;

/// A plaintext key. It is returned once to its owner and otherwise never shown: `Debug` is redacted
/// and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(plaintext: impl Into<String>) -> Self {
        Secret(plaintext.into())
    }

    /// The plaintext, for the single response that hands it to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> KeyHash {
        KeyHash::of(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// `base64std(sha256(key))` with padding: 44 characters, the format Unkey stores, so that hashes
/// migrated from Unkey verify unchanged.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyHash(String);

impl KeyHash {
    pub fn of(plaintext: &str) -> Self {
        KeyHash(STANDARD.encode(Sha256::digest(plaintext.as_bytes())))
    }

    /// A hash as stored. Not validated: imported hashes are stored verbatim.
    pub fn from_stored(hash: impl Into<String>) -> Self {
        KeyHash(hash.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison, for the places that compare hashes of secrets directly.
    pub fn ct_eq(&self, other: &KeyHash) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A hash is not the secret, but it is enough to verify a guess offline; keep it out of logs.
        write!(f, "KeyHash({}…)", &self.0[..self.0.len().min(6)])
    }
}

/// A freshly generated key with everything storage needs and the plaintext for the caller.
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    pub secret: Secret,
    pub hash: KeyHash,
    /// Prefix, `_`, and the first 4 characters of the random part (§7.3).
    pub start: String,
    /// The last 4 characters of the key, for display.
    pub end: String,
}

/// Generates a key: `prefix_` + base58(CSPRNG(byte_length)), or just the base58 part without a
/// prefix. The caller validates `byte_length` and the prefix pattern beforehand.
pub fn generate_key(prefix: Option<&str>, byte_length: usize) -> GeneratedKey {
    let mut bytes = vec![0u8; byte_length];
    OsRng.fill_bytes(&mut bytes);
    let encoded = bs58::encode(&bytes).into_string();
    let head: String = encoded.chars().take(4).collect();
    let (plaintext, start) = match prefix {
        Some(p) if !p.is_empty() => (format!("{p}_{encoded}"), format!("{p}_{head}")),
        _ => (encoded.clone(), head),
    };
    let end = plaintext[plaintext.len().saturating_sub(4)..].to_string();
    let secret = Secret::new(plaintext);
    GeneratedKey { hash: secret.hash(), secret, start, end }
}

/// A new root key.
pub fn generate_root_key() -> GeneratedKey {
    generate_key(Some(ROOT_KEY_PREFIX), ROOT_KEY_BYTES)
}

/// A root key from an operator-chosen secret (`KEYWAY_ROOT_KEY`).
pub fn root_key_from_secret(plaintext: &str) -> GeneratedKey {
    let secret = Secret::new(plaintext);
    let start: String = plaintext.chars().take(ROOT_KEY_PREFIX.len() + 5).collect();
    let end = plaintext.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    GeneratedKey { hash: secret.hash(), secret, start, end }
}

/// `true` when `prefix` fits the reference's pattern `^[a-zA-Z0-9_]+$`, 1..16 characters.
pub fn is_valid_prefix(prefix: &str) -> bool {
    (1..=16).contains(&prefix.len()) && prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hash_matches_reference_vectors() {
        assert_eq!(KeyHash::of("prod_2cGKbMxRjIzhCxo1IdjH3a").as_str(), "KBEjU4inn+nsLTdw61i7AGrL2tEYygNjN3bYfoI+I5A=");
        assert_eq!(KeyHash::of("unkey_test").as_str(), "Gpq9najDZgHUhzQWtAa5nc4JpOxClPyqOOKJNwliJVw=");
    }

    #[test]
    fn base58_matches_reference_vector() {
        let bytes: Vec<u8> = (0u8..16).collect();
        assert_eq!(bs58::encode(bytes).into_string(), "12drXXUifSrRnXLGbXg8E");
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let key = generate_key(Some("sk_live"), 16);
        assert!(!format!("{key:?}").contains(key.secret.expose()));
    }

    proptest! {
        #[test]
        fn generated_keys_keep_prefix_start_and_hash(prefix in "[a-zA-Z0-9_]{1,16}", len in 16usize..=64) {
            let key = generate_key(Some(&prefix), len);
            let plaintext = key.secret.expose();
            let with_sep = format!("{}_", prefix);
            prop_assert!(plaintext.starts_with(&with_sep));
            prop_assert!(plaintext.starts_with(&key.start));
            prop_assert_eq!(key.start.len(), prefix.len() + 5);
            prop_assert!(plaintext.ends_with(&key.end));
            prop_assert_eq!(&key.hash, &KeyHash::of(plaintext));
            prop_assert_eq!(key.hash.as_str().len(), 44);
            let random = &plaintext[prefix.len() + 1..];
            prop_assert_eq!(bs58::decode(random).into_vec().unwrap().len(), len);
        }
    }
}
