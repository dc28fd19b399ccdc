use keyway_store::PageRequest;

/// One page of a keyset-paginated list (reference §1.7): `cursor` is the id of the first row of
/// the next page, present only when there is one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows fetched for `request`.
    pub fn from_rows(mut rows: Vec<T>, request: &PageRequest, id: impl Fn(&T) -> &str) -> Self {
        let cursor = if rows.len() > request.limit {
            let next = rows.split_off(request.limit);
            next.first().map(|r| id(r).to_string())
        } else {
            None
        };
        Page { items: rows, cursor }
    }
}
