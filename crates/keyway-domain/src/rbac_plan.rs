//! Which permissions an RBAC write names: the rows the workspace has, the ones the write creates
//! (with ids core minted), or the first slug it lacks when the write may not create. With
//! [`crate::link_plan::plan_links`] this is the whole plan of a write; the adapters only read the
//! rows it starts from and apply what it says.

use crate::case_fold::distinct_folded;
use std::collections::HashMap;

/// One permission a write names, in the request's order.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolved<'a, T> {
    /// The workspace has it.
    Existing(&'a T),
    /// The workspace lacks it: create it with this id, named and slugged as the request spells it.
    Create { id: &'a str, slug: &'a str, folded: String },
}

/// Resolves `requested` slugs, without repeats ignoring case (the first spelling wins), against
/// `existing`, the workspace's rows among them (`folded` gives a row's folded slug). The n-th
/// distinct slug, when the workspace lacks it, is created with `new_ids[n]`; with no id for it (in
/// particular when `new_ids` is empty, as for a caller that may not create permissions) it is
/// missing, and the first missing slug as given is the error.
pub fn resolve_slugs<'a, T>(
    requested: &'a [String],
    existing: &'a [T],
    folded: impl Fn(&T) -> String,
    new_ids: &'a [String],
) -> Result<Vec<Resolved<'a, T>>, &'a str> {
    let rows: HashMap<String, &T> = existing.iter().map(|row| (folded(row), row)).collect();
    distinct_folded(requested)
        .into_iter()
        .enumerate()
        .map(|(n, (slug, folded))| match rows.get(&folded) {
            Some(row) => Ok(Resolved::Existing(*row)),
            None => new_ids.get(n).map(|id| Resolved::Create { id, slug, folded }).ok_or(slug),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case_fold::fold_case;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn existing_rows_are_used_and_the_rest_created_in_request_order() {
        let existing = strings(&["b.read"]);
        let requested = strings(&["A.Write", "B.READ", "a.write", "c"]);
        let ids = strings(&["id0", "id1", "id2", "id3"]);
        let resolved = resolve_slugs(&requested, &existing, |s| fold_case(s), &ids).unwrap();
        assert_eq!(
            resolved,
            [
                Resolved::Create { id: "id0", slug: "A.Write", folded: "a.write".into() },
                Resolved::Existing(&existing[0]),
                Resolved::Create { id: "id2", slug: "c", folded: "c".into() },
            ]
        );
    }

    #[test]
    fn without_ids_the_first_missing_slug_as_given_is_the_error() {
        let existing = strings(&["b"]);
        let requested = strings(&["b", "Zed", "y"]);
        assert_eq!(resolve_slugs(&requested, &existing, |s| fold_case(s), &[]), Err("Zed"));
    }

    proptest! {
        #[test]
        fn each_folded_slug_is_named_once_and_created_only_when_absent(
            requested in proptest::collection::vec("[a-dA-D]{1,2}", 0..12),
            existing in proptest::collection::btree_set("[a-d]{1,2}", 0..6),
        ) {
            let existing: Vec<String> = existing.into_iter().collect();
            let ids: Vec<String> = (0..requested.len()).map(|n| format!("perm_{n}")).collect();
            let resolved = resolve_slugs(&requested, &existing, |s| fold_case(s), &ids).unwrap();
            let named: Vec<String> = resolved
                .iter()
                .map(|r| match r {
                    Resolved::Existing(row) => fold_case(row),
                    Resolved::Create { folded, .. } => folded.clone(),
                })
                .collect();
            let distinct: Vec<String> = distinct_folded(&requested).into_iter().map(|(_, f)| f).collect();
            prop_assert_eq!(&named, &distinct);
            let mut created_ids = HashSet::new();
            for r in &resolved {
                if let Resolved::Create { id, folded, .. } = r {
                    prop_assert!(!existing.contains(folded), "creates only what the workspace lacks");
                    prop_assert!(created_ids.insert(*id), "each creation gets its own id");
                }
            }
            let missing = distinct.iter().find(|f| !existing.contains(f));
            let without_ids = resolve_slugs(&requested, &existing, |s| fold_case(s), &[]);
            match missing {
                None => prop_assert!(without_ids.is_ok()),
                Some(first) => prop_assert_eq!(fold_case(without_ids.unwrap_err()), first.clone()),
            }
        }
    }
}
