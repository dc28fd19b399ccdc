//! Case folding for permission-slug and role-name uniqueness and lookups (reference §5.2: both
//! are unique in a workspace ignoring case). Every adapter stores the folded text beside the
//! original rather than rely on a database collation, so the folding is this one function.

use std::collections::HashSet;

pub fn fold_case(text: &str) -> String {
    text.to_lowercase()
}

/// `given` without the entries equal to an earlier one ignoring case (the first spelling wins),
/// each with its folded text: how the slugs or names of one request are read.
pub fn distinct_folded(given: &[String]) -> Vec<(&str, String)> {
    let mut seen = HashSet::new();
    given
        .iter()
        .filter_map(|text| {
            let folded = fold_case(text);
            seen.insert(folded.clone()).then_some((text.as_str(), folded))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_first_spelling_wins() {
        let given: Vec<String> = ["Docs.Read", "docs.read", "b", "DOCS.READ", "B"].map(String::from).to_vec();
        assert_eq!(distinct_folded(&given), [("Docs.Read", "docs.read".to_string()), ("b", "b".to_string())]);
    }

    proptest! {
        #[test]
        fn distinct_folded_keeps_one_entry_per_folded_text_in_order(given in proptest::collection::vec("[a-cA-C.]{1,3}", 0..20)) {
            let kept = distinct_folded(&given);
            let folded: Vec<&String> = kept.iter().map(|(_, f)| f).collect();
            let unique: HashSet<&String> = folded.iter().copied().collect();
            prop_assert_eq!(unique.len(), folded.len());
            let all: HashSet<String> = given.iter().map(|g| fold_case(g)).collect();
            prop_assert_eq!(unique.len(), all.len());
            for (original, f) in &kept {
                prop_assert_eq!(&fold_case(original), f);
                let first = given.iter().find(|g| &fold_case(g) == f).unwrap();
                prop_assert_eq!(*original, first.as_str());
            }
        }
    }
}
