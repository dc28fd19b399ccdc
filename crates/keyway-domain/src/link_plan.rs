//! Which links an RBAC write makes and breaks (a key's permissions or roles, a role's
//! permissions): the rule both storage adapters apply, so that adding what is held, removing what
//! is not, and replacing a set produce the same links and the same audit events everywhere.

use std::collections::HashSet;

/// How a write changes a set of links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkChange {
    /// Links the given items; ones already linked are skipped.
    Add,
    /// Unlinks the given items; ones that exist but are not linked are skipped.
    Remove,
    /// Makes the links exactly the given items.
    Set,
}

/// The links one write makes and breaks; each is a real change, so each gets an audit event.
#[derive(Debug, PartialEq, Eq)]
pub struct LinkPlan<'a, T> {
    /// New links, in the order of the request.
    pub link: Vec<&'a T>,
    /// Links to break: in the order of the request (`Remove`) or of the current links (`Set`).
    pub unlink: Vec<&'a T>,
}

/// Applies `change` with the `target` items (the request's, resolved and without repeats) to the
/// owner's `current` links, items told apart by `id`.
pub fn plan_links<'a, T>(
    change: LinkChange,
    current: &'a [T],
    target: &'a [T],
    id: impl Fn(&T) -> &str,
) -> LinkPlan<'a, T> {
    let current_ids: HashSet<&str> = current.iter().map(&id).collect();
    let target_ids: HashSet<&str> = target.iter().map(&id).collect();
    let new = || target.iter().filter(|item| !current_ids.contains(id(item))).collect();
    match change {
        LinkChange::Add => LinkPlan { link: new(), unlink: Vec::new() },
        LinkChange::Remove => {
            LinkPlan { link: Vec::new(), unlink: target.iter().filter(|item| current_ids.contains(id(item))).collect() }
        }
        LinkChange::Set => {
            LinkPlan { link: new(), unlink: current.iter().filter(|item| !target_ids.contains(id(item))).collect() }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn plan(change: LinkChange, current: &[String], target: &[String]) -> (Vec<String>, Vec<String>) {
        let p = plan_links(change, current, target, String::as_str);
        (p.link.into_iter().cloned().collect(), p.unlink.into_iter().cloned().collect())
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn set_keeps_what_stays_and_orders_as_documented() {
        let (link, unlink) = plan(LinkChange::Set, &strings(&["b", "a", "c"]), &strings(&["d", "c", "e"]));
        assert_eq!(link, ["d", "e"]);
        assert_eq!(unlink, ["b", "a"]);
    }

    #[test]
    fn add_and_remove_skip_what_changes_nothing() {
        let current = strings(&["a", "b"]);
        assert_eq!(plan(LinkChange::Add, &current, &strings(&["b", "c"])), (strings(&["c"]), vec![]));
        assert_eq!(plan(LinkChange::Remove, &current, &strings(&["c", "b"])), (vec![], strings(&["b"])));
    }

    /// Distinct ids, as resolved requests and link tables hold them.
    fn ids() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::btree_set("[a-f]", 0..6).prop_map(|s| s.into_iter().collect::<Vec<_>>()).prop_shuffle()
    }

    fn after(current: &[String], link: &[String], unlink: &[String]) -> BTreeSet<String> {
        let mut links: BTreeSet<String> = current.iter().cloned().collect();
        for item in unlink {
            assert!(links.remove(item), "unlinks only what is linked");
        }
        for item in link {
            assert!(links.insert(item.clone()), "links only what is not linked");
        }
        links
    }

    proptest! {
        #[test]
        fn the_plan_reaches_the_requested_links_with_real_changes_only(current in ids(), target in ids()) {
            let cur: BTreeSet<String> = current.iter().cloned().collect();
            let tgt: BTreeSet<String> = target.iter().cloned().collect();
            let (link, unlink) = plan(LinkChange::Add, &current, &target);
            prop_assert!(unlink.is_empty());
            prop_assert_eq!(after(&current, &link, &unlink), &cur | &tgt);
            let (link, unlink) = plan(LinkChange::Remove, &current, &target);
            prop_assert!(link.is_empty());
            prop_assert_eq!(after(&current, &link, &unlink), &cur - &tgt);
            let (link, unlink) = plan(LinkChange::Set, &current, &target);
            prop_assert_eq!(after(&current, &link, &unlink), tgt);
        }

        #[test]
        fn a_plan_applied_twice_changes_nothing_the_second_time(current in ids(), target in ids()) {
            for change in [LinkChange::Add, LinkChange::Remove, LinkChange::Set] {
                let (link, unlink) = plan(change, &current, &target);
                let now: Vec<String> = after(&current, &link, &unlink).into_iter().collect();
                prop_assert_eq!(plan(change, &now, &target), (vec![], vec![]));
            }
        }

        #[test]
        fn new_links_keep_the_request_order(current in ids(), target in ids()) {
            let (link, _) = plan(LinkChange::Set, &current, &target);
            let expected: Vec<String> = target.iter().filter(|t| !current.contains(t)).cloned().collect();
            prop_assert_eq!(link, expected);
        }
    }
}
