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
    generate_key_in(KeyFormat::Plain, prefix, byte_length)
}

/// [`generate_key`] in the API's [`KeyFormat`]: a checksummed key is the plain key followed by
/// its checksum tail.
pub fn generate_key_in(format: KeyFormat, prefix: Option<&str>, byte_length: usize) -> GeneratedKey {
    let mut bytes = vec![0u8; byte_length];
    OsRng.fill_bytes(&mut bytes);
    let encoded = bs58::encode(&bytes).into_string();
    let head: String = encoded.chars().take(4).collect();
    let (mut plaintext, start) = match prefix {
        Some(p) if !p.is_empty() => (format!("{p}_{encoded}"), format!("{p}_{head}")),
        _ => (encoded.clone(), head),
    };
    if format == KeyFormat::Checksummed {
        plaintext.push_str(CHECKSUM_MARKER);
        let checksum = checksum_text(&plaintext);
        plaintext.push_str(&checksum);
    }
    let end = plaintext[plaintext.len().saturating_sub(4)..].to_string();
    let secret = Secret::new(plaintext);
    GeneratedKey { hash: secret.hash(), secret, start, end }
}

/// How an API's new keys look. Verification does not consult it: whether a key is checksummed is
/// read from the key itself, so changing an API's format never breaks keys already issued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum KeyFormat {
    /// Unkey's format (§7.1).
    #[default]
    Plain,
    /// The plain key + `_kw1` + a 6-character checksum, so that secret scanners can recognise a
    /// key and verification can refuse a mistyped one without any lookup.
    Checksummed,
}

impl KeyFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyFormat::Plain => "plain",
            KeyFormat::Checksummed => "checksummed",
        }
    }

    pub fn parse(text: &str) -> Option<KeyFormat> {
        match text {
            "plain" => Some(KeyFormat::Plain),
            "checksummed" => Some(KeyFormat::Checksummed),
            _ => None,
        }
    }
}

/// The tail of a checksummed key: `_kw1` and then the checksum.
///
/// Why a plain key is never taken for a checksummed one: a checksummed key is recognised by its
/// last `_`-separated segment being exactly `kw1` + 6 characters (9 in all). In a plain key the
/// text after the last `_` is the whole base58 random part (base58 has no `_`, and a prefix may
/// contain `_` but is always followed by `_` + the random part). The random part encodes at least
/// 16 bytes, and base58 never encodes n bytes in fewer than n characters (a leading zero byte takes
/// one character, and any other leading byte makes the number at least 256^(k-1), which needs more
/// than k-1 base58 digits). So that segment is at least 16 characters long, never 9: the chance of
/// confusion is zero, not merely small. A prefix-less plain key contains no `_` at all.
///
/// Keys imported with `keys.migrateKeys` are arbitrary text; one would have to end in `_kw1` and
/// six letters or digits to be taken for a checksummed key, which no known key format does.
pub const CHECKSUM_MARKER: &str = "_kw1";
/// Width of the checksum: base62 of a CRC-32, zero-padded (62^6 > 2^32).
pub const CHECKSUM_WIDTH: usize = 6;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// CRC-32 of everything before the checksum (prefix, random part and marker). A CRC-32 detects
/// every error confined to 32 consecutive bits, so every single-character substitution.
fn checksum_value(covered: &str) -> u32 {
    CRC32.checksum(covered.as_bytes())
}

fn checksum_text(covered: &str) -> String {
    let mut value = u64::from(checksum_value(covered));
    let mut digits = [b'0'; CHECKSUM_WIDTH];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(value % 62) as usize];
        value /= 62;
    }
    digits.iter().map(|&d| char::from(d)).collect()
}

fn base62_value(text: &[u8]) -> Option<u64> {
    text.iter().try_fold(0u64, |acc, &c| {
        let digit = match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'Z' => c - b'A' + 10,
            b'a'..=b'z' => c - b'a' + 36,
            _ => return None,
        };
        Some(acc * 62 + u64::from(digit))
    })
}

/// What a presented key's shape says before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// No checksum marker: a plain (or imported) key, looked up as usual.
    Absent,
    /// A checksummed key whose checksum holds.
    Valid,
    /// Carries the marker but the checksum fails: a typo or a made-up key, which cannot exist.
    Invalid,
}

/// Reads the checksum of `key`: constant work (one CRC over the key), no allocation.
pub fn check_checksum(key: &str) -> Checksum {
    let bytes = key.as_bytes();
    let tail = CHECKSUM_MARKER.len() + CHECKSUM_WIDTH;
    if bytes.len() < tail || !bytes[..bytes.len() - CHECKSUM_WIDTH].ends_with(CHECKSUM_MARKER.as_bytes()) {
        return Checksum::Absent;
    }
    let (covered, given) = bytes.split_at(bytes.len() - CHECKSUM_WIDTH);
    let expected = u64::from(CRC32.checksum(covered));
    match base62_value(given) {
        Some(value) if value == expected => Checksum::Valid,
        _ => Checksum::Invalid,
    }
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

    #[test]
    fn checksummed_keys_end_in_the_marker_and_a_fixed_width_checksum() {
        let key = generate_key_in(KeyFormat::Checksummed, Some("sk_live"), 16);
        let plaintext = key.secret.expose();
        let (body, checksum) = plaintext.split_at(plaintext.len() - CHECKSUM_WIDTH);
        assert!(body.starts_with("sk_live_") && body.ends_with("_kw1"), "{plaintext}");
        assert!(checksum.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(checksum, checksum_text(body));
        assert!(plaintext.starts_with(&key.start) && plaintext.ends_with(&key.end));
        assert_eq!(check_checksum(plaintext), Checksum::Valid);
    }

    #[test]
    fn checksum_matches_an_independent_crc32() {
        // CRC-32/ISO-HDLC("123456789") = 0xCBF43926 = 3421780262 = base62 "3jZRME".
        assert_eq!(checksum_value("123456789"), 0xCBF4_3926);
        assert_eq!(checksum_text("123456789"), "3jZRME");
    }

    #[test]
    fn a_marker_with_a_malformed_checksum_is_invalid() {
        let body = "abc_kw1";
        assert_eq!(check_checksum(&format!("{body}{}", checksum_text(body))), Checksum::Valid);
        for bad in ["abc_kw1", "abc_kw1_____", "abc_kw1zzzzzz", "abc_kw1é0000"] {
            assert_ne!(check_checksum(bad), Checksum::Valid, "{bad}");
        }
        assert_eq!(check_checksum("abc_kw1zzzzzz"), Checksum::Invalid);
        assert_eq!(check_checksum(""), Checksum::Absent);
        assert_eq!(check_checksum("unkey_test"), Checksum::Absent);
    }

    proptest! {
        #[test]
        fn every_generated_checksummed_key_checks(prefix in proptest::option::of("[a-zA-Z0-9_]{1,16}"), len in 16usize..=64) {
            let key = generate_key_in(KeyFormat::Checksummed, prefix.as_deref(), len);
            prop_assert_eq!(check_checksum(key.secret.expose()), Checksum::Valid);
            prop_assert_eq!(&key.hash, &KeyHash::of(key.secret.expose()));
        }

        /// Any single-character change to a checksummed key stops it checking: it then either
        /// fails its checksum or no longer carries the marker (and is an unknown plain key).
        #[test]
        fn any_single_character_change_fails(
            prefix in proptest::option::of("[a-zA-Z0-9_]{1,16}"),
            position in any::<proptest::sample::Index>(),
            replacement in "[a-zA-Z0-9_]",
        ) {
            let key = generate_key_in(KeyFormat::Checksummed, prefix.as_deref(), 16);
            let original = key.secret.expose();
            let at = position.index(original.len());
            let mut changed = original.to_string();
            changed.replace_range(at..at + 1, &replacement);
            prop_assume!(changed != original);
            prop_assert_ne!(check_checksum(&changed), Checksum::Valid);
        }

        /// Plain keys, with any valid prefix, never carry the marker.
        #[test]
        fn plain_keys_are_never_taken_for_checksummed(prefix in proptest::option::of("[a-zA-Z0-9_]{1,16}"), len in 16usize..=64) {
            let key = generate_key(prefix.as_deref(), len);
            prop_assert_eq!(check_checksum(key.secret.expose()), Checksum::Absent);
        }

        #[test]
        fn checking_arbitrary_text_never_panics(text in "\\PC{0,40}") {
            let _ = check_checksum(&text);
        }

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
