//! How a key was generated (its prefix and random byte length), so that `keys.rerollKey` can
//! generate a successor that looks the same: `sk_live_…` stays `sk_live_…` (Unkey truncates the
//! prefix at its first `_` and falls back to 16 bytes, which breaks clients that match prefixes).

use crate::key_material::{DEFAULT_BYTE_LENGTH, GeneratedKey, KeyFormat, generate_key_in};

/// The random part of a displayed `start` is this many characters.
const START_RANDOM_CHARS: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyShape {
    /// Without the `_` that joins it to the random part.
    pub prefix: Option<String>,
    pub byte_length: usize,
}

impl KeyShape {
    /// The shape stored with a key; keys that predate stored shapes (no byte length) get theirs
    /// from [`KeyShape::from_start`].
    pub fn stored(prefix: Option<String>, byte_length: Option<usize>, start: &str) -> KeyShape {
        match byte_length {
            Some(byte_length) => KeyShape { prefix: prefix.filter(|p| !p.is_empty()), byte_length },
            None => KeyShape::from_start(start),
        }
    }

    /// The shape of a key known only by its `start`: `prefix_` plus 4 characters, or 4 characters
    /// without a prefix (reference §7.3). The random part is base58, so it holds no `_`, and
    /// everything before the last `_` in front of it is the whole prefix. The byte length cannot
    /// be recovered from `start`; the default is what such keys were generated with.
    pub fn from_start(start: &str) -> KeyShape {
        let prefix = start
            .len()
            .checked_sub(START_RANDOM_CHARS + 1)
            .filter(|&sep| sep > 0 && start.is_char_boundary(sep) && start.as_bytes()[sep] == b'_')
            .map(|sep| start[..sep].to_string());
        KeyShape { prefix, byte_length: DEFAULT_BYTE_LENGTH }
    }

    /// A new key of this shape, in the API's format.
    pub fn generate(&self, format: KeyFormat) -> GeneratedKey {
        generate_key_in(format, self.prefix.as_deref(), self.byte_length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn start_without_prefix_has_none() {
        assert_eq!(KeyShape::from_start("3xYz"), KeyShape { prefix: None, byte_length: 16 });
    }

    #[test]
    fn start_keeps_every_underscore_of_the_prefix() {
        assert_eq!(KeyShape::from_start("sk_live_abcd").prefix.as_deref(), Some("sk_live"));
        assert_eq!(KeyShape::from_start("a__b_wxyz").prefix.as_deref(), Some("a__b"));
    }

    #[test]
    fn odd_starts_have_no_prefix() {
        for start in ["", "_abcd", "abcdefgh", "ab_cd"] {
            assert_eq!(KeyShape::from_start(start).prefix, None, "{start:?}");
        }
    }

    #[test]
    fn stored_byte_length_wins_over_start() {
        let shape = KeyShape::stored(Some("sk_live".into()), Some(32), "whatever");
        assert_eq!(shape, KeyShape { prefix: Some("sk_live".into()), byte_length: 32 });
        assert_eq!(KeyShape::stored(None, None, "pk_abcd"), KeyShape { prefix: Some("pk".into()), byte_length: 16 });
        assert_eq!(KeyShape::stored(Some(String::new()), Some(20), "abcd").prefix, None);
    }

    proptest! {
        #[test]
        fn a_generated_key_has_its_shape_and_start_gives_it_back(
            prefix in proptest::option::of("[a-zA-Z0-9_]{1,16}"),
            byte_length in 16usize..=64,
        ) {
            let shape = KeyShape { prefix: prefix.clone(), byte_length };
            let key = shape.generate(KeyFormat::Plain);
            let plaintext = key.secret.expose();
            let random = match &prefix {
                Some(p) => plaintext.strip_prefix(&format!("{p}_")).expect("prefix kept"),
                None => plaintext,
            };
            prop_assert_eq!(bs58::decode(random).into_vec().unwrap().len(), byte_length);
            prop_assert_eq!(KeyShape::from_start(&key.start).prefix, prefix);
        }
    }
}
