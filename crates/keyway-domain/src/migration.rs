//! Keys imported by hash (reference §3.9, §7.4): the algorithms a migration can use, what an
//! imported hash must look like, and how a presented key finds and proves its imported row.
//!
//! `sha256` hashes are normalized to the stored format at import, so those keys verify like any
//! other. The other algorithms keep the customer's hash with the migration pending; the first
//! verification that names the migration proves the plaintext against it and rehashes the key.

use crate::key_material::KeyHash;
use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::{Argon2, Params};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;
use subtle::ConstantTimeEq;
use thiserror::Error;

/// The shortest `start` an imported bcrypt or argon2 key may carry: shorter ones would make many
/// keys share a lookup.
pub const MIN_START_LEN: usize = 4;
/// The longest `start`: a verification looks up at most this many prefixes of the key.
pub const MAX_START_LEN: usize = 64;
/// At most this many pending keys are proven per verification; the longest (most specific)
/// `start`s come first.
pub const MAX_CANDIDATES: usize = 8;

/// Ceilings on the work factor of imported hashes, so one verification's proof stays bounded.
const MAX_BCRYPT_COST: u32 = 16;
const MAX_ARGON2_MEMORY_KIB: u32 = 256 * 1024;
const MAX_ARGON2_ITERATIONS: u32 = 16;
const MAX_ARGON2_LANES: u32 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MigrationAlgorithm {
    /// `base64(sha256(key))` (or its hex form): Unkey's own format.
    Sha256,
    /// `hex(sha256(longToken))` of keys shaped `<prefix>_<shortToken>_<longToken>`.
    PrefixedApiKey,
    /// A bcrypt hash (`$2a$`, `$2b$`, `$2y$`) of the whole key. Keyway extension.
    Bcrypt,
    /// An argon2id PHC string (`$argon2id$v=19$...`) of the whole key. Keyway extension.
    Argon2,
}

impl MigrationAlgorithm {
    pub const ALL: [MigrationAlgorithm; 4] = [Self::Sha256, Self::PrefixedApiKey, Self::Bcrypt, Self::Argon2];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::PrefixedApiKey => "github.com/seamapi/prefixed-api-key",
            Self::Bcrypt => "bcrypt",
            Self::Argon2 => "argon2",
        }
    }

    /// Whether imported keys wait for a verification to be rehashed (all but `sha256`).
    pub fn is_deferred(self) -> bool {
        self != Self::Sha256
    }

    /// Whether imported keys are found by their `start` (which each must then carry).
    pub fn needs_start(self) -> bool {
        matches!(self, Self::Bcrypt | Self::Argon2)
    }
}

impl fmt::Display for MigrationAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "unknown migration algorithm '{0}'; expected one of: sha256, github.com/seamapi/prefixed-api-key, bcrypt, argon2"
)]
pub struct UnknownAlgorithm(pub String);

impl FromStr for MigrationAlgorithm {
    type Err = UnknownAlgorithm;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|a| a.as_str() == s).ok_or_else(|| UnknownAlgorithm(s.to_string()))
    }
}

/// Why an imported hash is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ImportError {
    #[error("hash '{hash}' is not a sha256 digest in base64 (44 characters with padding) or hex (64 characters)")]
    NotSha256 { hash: String },
    #[error("hash '{hash}' is not a hex sha256 digest (64 characters) of the key's long token")]
    NotHexSha256 { hash: String },
    #[error("hash is not a bcrypt hash ($2a$, $2b$ or $2y$, cost 4..={MAX_BCRYPT_COST}, 60 characters)")]
    NotBcrypt,
    #[error(
        "hash is not an argon2id PHC string ($argon2id$v=19$...) with m <= {MAX_ARGON2_MEMORY_KIB}, t <= {MAX_ARGON2_ITERATIONS}, p <= {MAX_ARGON2_LANES}"
    )]
    NotArgon2id,
    #[error(
        "`start` is required for {0} migrations: the visible beginning of the key, {MIN_START_LEN} to {MAX_START_LEN} characters"
    )]
    StartRequired(MigrationAlgorithm),
    #[error("`start` must be {MIN_START_LEN} to {MAX_START_LEN} characters")]
    StartLength,
    #[error("`start` is only used by bcrypt and argon2 migrations, not by {0}")]
    StartUnused(MigrationAlgorithm),
}

/// An imported key as it is stored: its hash column and its `start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedHash {
    pub hash: KeyHash,
    pub start: String,
}

/// Checks one imported `(hash, start)` for `algorithm` and returns what to store.
pub fn import(algorithm: MigrationAlgorithm, hash: &str, start: Option<&str>) -> Result<ImportedHash, ImportError> {
    let start = match (algorithm.needs_start(), start) {
        (true, None) => return Err(ImportError::StartRequired(algorithm)),
        (false, Some(_)) => return Err(ImportError::StartUnused(algorithm)),
        (false, None) => String::new(),
        (true, Some(s)) if (MIN_START_LEN..=MAX_START_LEN).contains(&s.chars().count()) => s.to_string(),
        (true, Some(_)) => return Err(ImportError::StartLength),
    };
    let stored = match algorithm {
        MigrationAlgorithm::Sha256 => sha256_digest(hash)
            .map(|d| STANDARD.encode(d))
            .ok_or_else(|| ImportError::NotSha256 { hash: hash.into() })?,
        MigrationAlgorithm::PrefixedApiKey => match hex_digest(hash) {
            Some(digest) => hex::encode(digest),
            None => return Err(ImportError::NotHexSha256 { hash: hash.into() }),
        },
        MigrationAlgorithm::Bcrypt if is_bcrypt(hash) => hash.to_string(),
        MigrationAlgorithm::Bcrypt => return Err(ImportError::NotBcrypt),
        MigrationAlgorithm::Argon2 if is_bounded_argon2id(hash) => hash.to_string(),
        MigrationAlgorithm::Argon2 => return Err(ImportError::NotArgon2id),
    };
    Ok(ImportedHash { hash: KeyHash::from_stored(stored), start })
}

/// A 32-byte digest given as padded base64 or as hex in either case.
fn sha256_digest(text: &str) -> Option<[u8; 32]> {
    if text.len() == 44 {
        return STANDARD.decode(text).ok()?.try_into().ok();
    }
    hex_digest(text)
}

fn hex_digest(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    hex::decode(text).ok()?.try_into().ok()
}

fn is_bcrypt(hash: &str) -> bool {
    let Some(rest) = ["$2a$", "$2b$", "$2y$"].iter().find_map(|v| hash.strip_prefix(v)) else {
        return false;
    };
    let Some((cost, salted)) = rest.split_once('$') else {
        return false;
    };
    let cost_ok = cost.len() == 2 && cost.parse::<u32>().is_ok_and(|c| (4..=MAX_BCRYPT_COST).contains(&c));
    cost_ok && salted.len() == 53 && salted.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
}

fn is_bounded_argon2id(hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    parsed.algorithm == argon2::Algorithm::Argon2id.ident()
        && parsed.version == Some(0x13)
        && parsed.hash.is_some()
        && params.m_cost() <= MAX_ARGON2_MEMORY_KIB
        && params.t_cost() <= MAX_ARGON2_ITERATIONS
        && params.p_cost() <= MAX_ARGON2_LANES
}

/// A key of the prefixed-api-key scheme: `<prefix>_<shortToken>_<longToken>`, where the prefix
/// may itself contain `_`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixedKey<'a> {
    pub prefix: &'a str,
    pub short_token: &'a str,
    pub long_token: &'a str,
}

/// `None` when the key has fewer than three `_`-separated parts.
pub fn split_prefixed(key: &str) -> Option<PrefixedKey<'_>> {
    let (rest, long_token) = key.rsplit_once('_')?;
    let (prefix, short_token) = rest.rsplit_once('_')?;
    Some(PrefixedKey { prefix, short_token, long_token })
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("Invalid key format")]
pub struct MalformedKey;

/// How a verification finds the pending keys a presented key may belong to. Each is an index
/// lookup, never a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingLookup {
    /// The pending key whose stored hash is exactly this.
    Hash(String),
    /// Pending keys whose `start` is one of these prefixes of the presented key.
    Starts(Vec<String>),
}

/// The lookup for a key presented with a migration of `algorithm`; `Ok(None)` when the algorithm
/// has nothing pending (sha256 keys were stored in the final format).
pub fn pending_lookup(algorithm: MigrationAlgorithm, key: &str) -> Result<Option<PendingLookup>, MalformedKey> {
    Ok(match algorithm {
        MigrationAlgorithm::Sha256 => None,
        MigrationAlgorithm::PrefixedApiKey => {
            let parts = split_prefixed(key).ok_or(MalformedKey)?;
            Some(PendingLookup::Hash(hex::encode(Sha256::digest(parts.long_token.as_bytes()))))
        }
        MigrationAlgorithm::Bcrypt | MigrationAlgorithm::Argon2 => Some(PendingLookup::Starts(candidate_starts(key))),
    })
}

/// Every prefix of `key` that could be an imported `start`: `MIN_START_LEN..=MAX_START_LEN`
/// characters.
pub fn candidate_starts(key: &str) -> Vec<String> {
    key.char_indices()
        .map(|(i, c)| &key[..i + c.len_utf8()])
        .enumerate()
        .filter(|(n, _)| (MIN_START_LEN..=MAX_START_LEN).contains(&(n + 1)))
        .map(|(_, prefix)| prefix.to_string())
        .collect()
}

/// Whether `key` is the plaintext of the pending key stored as `stored`. CPU-heavy for bcrypt and
/// argon2 (by design of those hashes): run it off the async threads.
pub fn proves(algorithm: MigrationAlgorithm, stored: &str, key: &str) -> bool {
    match algorithm {
        MigrationAlgorithm::Sha256 => false,
        MigrationAlgorithm::PrefixedApiKey => split_prefixed(key).is_some_and(|parts| {
            let computed = hex::encode(Sha256::digest(parts.long_token.as_bytes()));
            computed.as_bytes().ct_eq(stored.as_bytes()).into()
        }),
        MigrationAlgorithm::Bcrypt => bcrypt::verify(key, stored).unwrap_or(false),
        MigrationAlgorithm::Argon2 => PasswordHash::new(stored)
            .is_ok_and(|parsed| Argon2::default().verify_password(key.as_bytes(), &parsed).is_ok()),
    }
}

/// The `start` a key gets once migrated. For prefixed-api-key keys, the reference's rule (§7.4);
/// otherwise createKey's: the text up to the last `_` and 4 more characters, or the first 4.
pub fn migrated_start(algorithm: MigrationAlgorithm, key: &str) -> String {
    let head = |text: &str| text.chars().take(4).collect::<String>();
    match (algorithm, split_prefixed(key)) {
        (MigrationAlgorithm::PrefixedApiKey, Some(parts)) => {
            format!("{}_{}", parts.prefix, head(&format!("{}_{}", parts.short_token, parts.long_token)))
        }
        _ => match key.rsplit_once('_') {
            Some((prefix, random)) => format!("{prefix}_{}", head(random)),
            None => head(key),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: &str = "prod_2cGKbMxRjIzhCxo1IdjH3a";
    const KEY_B64: &str = "KBEjU4inn+nsLTdw61i7AGrL2tEYygNjN3bYfoI+I5A=";

    fn key_hex() -> String {
        hex::encode(Sha256::digest(KEY.as_bytes()))
    }

    #[test]
    fn algorithms_round_trip_through_their_names() {
        for a in MigrationAlgorithm::ALL {
            assert_eq!(a.as_str().parse::<MigrationAlgorithm>(), Ok(a));
        }
        assert!("md5".parse::<MigrationAlgorithm>().unwrap_err().to_string().contains("bcrypt"));
    }

    #[test]
    fn sha256_accepts_base64_and_hex_in_any_case_and_stores_base64() {
        for given in [KEY_B64.to_string(), key_hex(), key_hex().to_uppercase()] {
            let imported = import(MigrationAlgorithm::Sha256, &given, None).unwrap();
            assert_eq!(imported.hash, KeyHash::of(KEY), "{given}");
            assert_eq!(imported.start, "");
        }
        for bad in ["abc", &key_hex()[1..], "KBEjU4inn+nsLTdw61i7AGrL2tEYygNjN3bYfoI+I5A", "zz".repeat(32).as_str()] {
            assert!(matches!(import(MigrationAlgorithm::Sha256, bad, None), Err(ImportError::NotSha256 { .. })));
        }
    }

    #[test]
    fn start_is_required_exactly_where_lookups_use_it() {
        let bcrypt = bcrypt::hash("sk_abcd1234", 4).unwrap();
        assert_eq!(
            import(MigrationAlgorithm::Bcrypt, &bcrypt, None),
            Err(ImportError::StartRequired(MigrationAlgorithm::Bcrypt))
        );
        assert_eq!(import(MigrationAlgorithm::Bcrypt, &bcrypt, Some("sk_")), Err(ImportError::StartLength));
        assert_eq!(import(MigrationAlgorithm::Bcrypt, &bcrypt, Some("sk_a")).unwrap().start, "sk_a");
        assert_eq!(
            import(MigrationAlgorithm::Sha256, KEY_B64, Some("prod")),
            Err(ImportError::StartUnused(MigrationAlgorithm::Sha256))
        );
    }

    #[test]
    fn bcrypt_and_argon2_hashes_are_checked_for_shape_and_cost() {
        let bcrypt = bcrypt::hash("k", 4).unwrap();
        assert!(is_bcrypt(&bcrypt));
        assert!(is_bcrypt(&bcrypt.replacen("$2b$", "$2y$", 1)));
        assert!(!is_bcrypt(&bcrypt.replacen("$2b$", "$2x$", 1)));
        assert!(!is_bcrypt(&bcrypt.replacen("$04$", "$17$", 1)));
        assert!(!is_bcrypt(&bcrypt[..59]));
        let argon = argon2id("k", 64, 1);
        assert!(is_bounded_argon2id(&argon));
        assert!(!is_bounded_argon2id(&argon2id("k", MAX_ARGON2_MEMORY_KIB + 8, 1)));
        assert!(!is_bounded_argon2id(&argon.replacen("argon2id", "argon2i", 1)));
        assert!(!is_bounded_argon2id("$argon2id$v=19$m=64,t=1,p=1"));
    }

    fn argon2id(key: &str, m: u32, t: u32) -> String {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let params = Params::new(m, t, 1, None).unwrap();
        let hasher = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        hasher.hash_password(key.as_bytes(), &SaltString::from_b64("c2FsdHNhbHRzYWx0").unwrap()).unwrap().to_string()
    }

    #[test]
    fn prefixed_keys_split_on_their_last_two_underscores() {
        let parts = split_prefixed("re_live_short_longtoken").unwrap();
        assert_eq!(parts, PrefixedKey { prefix: "re_live", short_token: "short", long_token: "longtoken" });
        assert_eq!(split_prefixed("only_two"), None);
        assert_eq!(pending_lookup(MigrationAlgorithm::PrefixedApiKey, "nounderscore"), Err(MalformedKey));
        assert_eq!(migrated_start(MigrationAlgorithm::PrefixedApiKey, "re_live_short_longtoken"), "re_live_shor");
    }

    #[test]
    fn prefixed_keys_are_proven_by_the_hex_digest_of_the_long_token() {
        let key = "re_ab12_verylongtoken";
        let stored = import(MigrationAlgorithm::PrefixedApiKey, &hex::encode(Sha256::digest(b"verylongtoken")), None)
            .unwrap()
            .hash;
        assert_eq!(
            pending_lookup(MigrationAlgorithm::PrefixedApiKey, key),
            Ok(Some(PendingLookup::Hash(stored.as_str().to_string())))
        );
        assert!(proves(MigrationAlgorithm::PrefixedApiKey, stored.as_str(), key));
        assert!(!proves(MigrationAlgorithm::PrefixedApiKey, stored.as_str(), "re_ab12_otherlongtoken"));
    }

    #[test]
    fn bcrypt_and_argon2_prove_only_the_right_key() {
        let bcrypt = bcrypt::hash("sk_live_abcdef", 4).unwrap();
        assert!(proves(MigrationAlgorithm::Bcrypt, &bcrypt, "sk_live_abcdef"));
        assert!(!proves(MigrationAlgorithm::Bcrypt, &bcrypt, "sk_live_abcdeg"));
        let argon = argon2id("sk_live_abcdef", 64, 1);
        assert!(proves(MigrationAlgorithm::Argon2, &argon, "sk_live_abcdef"));
        assert!(!proves(MigrationAlgorithm::Argon2, &argon, "sk_live_abcdeg"));
        assert!(!proves(MigrationAlgorithm::Argon2, "not a hash", "sk_live_abcdef"));
        assert!(!proves(MigrationAlgorithm::Sha256, KEY_B64, KEY));
    }

    #[test]
    fn migrated_start_follows_create_key() {
        assert_eq!(migrated_start(MigrationAlgorithm::Bcrypt, "sk_live_abcdef"), "sk_live_abcd");
        assert_eq!(migrated_start(MigrationAlgorithm::Argon2, "abcdef"), "abcd");
    }

    proptest! {
        #[test]
        fn candidate_starts_are_the_bounded_prefixes(key in "\\PC{0,100}") {
            let starts = candidate_starts(&key);
            let len = key.chars().count();
            prop_assert_eq!(starts.len(), len.min(MAX_START_LEN).saturating_sub(MIN_START_LEN - 1));
            for s in &starts {
                prop_assert!(key.starts_with(s.as_str()));
                prop_assert!((MIN_START_LEN..=MAX_START_LEN).contains(&s.chars().count()));
            }
        }

        #[test]
        fn any_sha256_digest_imports_in_either_encoding(bytes in proptest::collection::vec(any::<u8>(), 32)) {
            let b64 = import(MigrationAlgorithm::Sha256, &STANDARD.encode(&bytes), None).unwrap();
            let hex = import(MigrationAlgorithm::Sha256, &hex::encode(&bytes), None).unwrap();
            prop_assert_eq!(b64, hex);
        }
    }
}
