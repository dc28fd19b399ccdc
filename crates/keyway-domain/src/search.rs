//! The `search` term of the list endpoints (listIdentities, listPermissions, listRoles).

/// The term to filter by: surrounding whitespace is ignored, and a term of only whitespace means no
/// filter at all (reference §5.1), not a filter that matches nothing.
pub fn search_term(search: Option<&str>) -> Option<&str> {
    search.map(str::trim).filter(|term| !term.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_only_means_no_filter() {
        assert_eq!(search_term(None), None);
        assert_eq!(search_term(Some("")), None);
        assert_eq!(search_term(Some(" \t\n ")), None);
    }

    #[test]
    fn a_term_is_trimmed_and_otherwise_kept() {
        assert_eq!(search_term(Some("  docs.read ")), Some("docs.read"));
        assert_eq!(search_term(Some("a b")), Some("a b"), "inner whitespace is part of the term");
        assert_eq!(search_term(Some("%_")), Some("%_"));
    }
}
