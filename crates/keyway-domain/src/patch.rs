//! Three-state update fields: absent (keep), `null` (clear), value (set).

/// A field of an update request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Patch<T> {
    /// The field was not sent: keep the stored value.
    #[default]
    Keep,
    /// The field was sent as `null`: clear the stored value.
    Clear,
    /// The field was sent with a value: store it.
    Set(T),
}

impl<T> Patch<T> {
    pub fn is_keep(&self) -> bool {
        matches!(self, Patch::Keep)
    }

    /// Applies the patch to a current optional value.
    pub fn apply(self, current: Option<T>) -> Option<T> {
        match self {
            Patch::Keep => current,
            Patch::Clear => None,
            Patch::Set(v) => Some(v),
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Patch<U> {
        match self {
            Patch::Keep => Patch::Keep,
            Patch::Clear => Patch::Clear,
            Patch::Set(v) => Patch::Set(f(v)),
        }
    }

    pub fn as_ref(&self) -> Patch<&T> {
        match self {
            Patch::Keep => Patch::Keep,
            Patch::Clear => Patch::Clear,
            Patch::Set(v) => Patch::Set(v),
        }
    }
}

impl<T> From<Option<T>> for Patch<T> {
    /// A present field: `None` is an explicit `null`.
    fn from(value: Option<T>) -> Self {
        match value {
            None => Patch::Clear,
            Some(v) => Patch::Set(v),
        }
    }
}
