//! Errors a `Freezer` can meet while freezing a value.

/// Why a value could not be frozen.
///
/// Errors are sticky inside a [`Freezer`](crate::Freezer): `Freeze::freeze`
/// stays infallible, the first error wins, and [`try_hash`](crate::try_hash)
/// returns it.
///
/// ```
/// use std::cell::RefCell;
/// use charm_freeze::{try_hash, FreezeError};
/// let cell = RefCell::new(1u8);
/// let _guard = cell.borrow_mut();
/// assert!(matches!(try_hash(&cell), Err(FreezeError::Borrowed { .. })));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FreezeError {
    /// The value nests deeper than the freezer's recursion limit.
    #[error(
        "value nests deeper than the recursion limit of {limit} levels; \
         raise it with Freezer::with_recursion_limit or freeze a flatter value"
    )]
    RecursionLimit {
        /// The limit in force.
        limit: u32,
    },
    /// A `RefCell` was mutably borrowed while it was being frozen.
    #[error("cannot freeze a {type_name} that is mutably borrowed; release the borrow first")]
    Borrowed {
        /// The type that could not be read.
        type_name: &'static str,
    },
    /// A composite writer was told one element count and given another.
    #[error(
        "{kind} declared {declared} elements but {written} were written; \
         the count passed to Freezer::{kind} must match the elements written"
    )]
    CountMismatch {
        /// Which writer (`seq`, `tuple`, `struct_`, `variant`, `set`, `map`).
        kind: &'static str,
        /// The count given to the writer.
        declared: u64,
        /// The number of elements actually written.
        written: u64,
    },
    /// Struct or variant fields were not written in strictly ascending name order.
    #[error(
        "field {field:?} of {container} was written after {previous:?}; write fields in strictly \
         ascending byte order of their names, each once (#[derive(Freeze)] does this for you)"
    )]
    FieldOrder {
        /// The struct or enum being written.
        container: String,
        /// The field written before.
        previous: String,
        /// The offending field.
        field: String,
    },
    /// A range was written with bounds its kind does not have, or without
    /// ones it has.
    #[error(
        "a {kind:?} range was given start: {start}, end: {end}; pass exactly the bounds \
         its kind has (RangeKind::From has only a start, RangeKind::To only an end, ...)"
    )]
    RangeBounds {
        /// The kind of range written.
        kind: crate::RangeKind,
        /// Whether a start was given.
        start: bool,
        /// Whether an end was given.
        end: bool,
    },
    /// A `Serialize` implementation failed (the `Serde` adapter).
    #[error("serialization failed while freezing: {0}")]
    Serialize(String),
}
