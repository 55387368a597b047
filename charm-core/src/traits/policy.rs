//! `ReplacementPolicy`: which entry to evict when the budget is exceeded.

use crate::EntryKey;
use std::any::Any;
use std::fmt;

/// What a policy knows of an entry when it is added or accessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryMeta {
    /// Bytes the entry counts against the budget.
    pub size: u64,
    /// Nanoseconds recomputing it would take (compute + serialize).
    pub cost_ns: u64,
}

/// `&dyn Any` for every `'static` type, so a policy's `update` can find the
/// other state's concrete type — `other.as_any().downcast_ref::<Mine>()` —
/// without writing `as_any` itself.
///
/// ```
/// use charm_core::AsAny;
/// let x: &dyn AsAny = &5u8;
/// assert_eq!(x.as_any().downcast_ref::<u8>(), Some(&5));
/// ```
pub trait AsAny: Any {
    /// `self`, for downcasting.
    fn as_any(&self) -> &dyn Any;
}

impl<T: Any> AsAny for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Chooses victims for eviction. Its state is persisted with the index
/// (through `typetag`, under its registry name) and merged across processes.
///
/// # Contract
///
/// - `evict` MUST return only keys that were added and not since evicted or
///   invalidated, and MUST forget the key it returns; `None` when it tracks
///   nothing.
/// - `add` of a key it already tracks replaces what it knew; `invalidate`
///   of an unknown key does nothing.
/// - `update(other)` merges another process's state of the same policy into
///   this one, keeping what both know (a key tracked by either stays
///   tracked); a policy of another type is ignored.
/// - Each operation SHOULD be O(log n) or better.
///
/// # Errors
///
/// Policies are infallible; a policy whose persisted state cannot be read
/// is replaced by a fresh one (a `corrupt` event).
///
/// # Implementing
///
/// Implement the trait with `#[typetag::serde(name = "..")]` (your crate
/// depends on `typetag` and `serde`), and register a constructor under the
/// same name with [`register_plugin!`](crate::register_plugin);
/// `charm_core::testing::policy_registration(name)` checks the two names
/// agree. In `update`, `other.as_any()` (from [`AsAny`], implemented for
/// every type) finds the other state's concrete type:
///
/// ```
/// use charm_core::{EntryKey, EntryMeta, ReplacementPolicy};
/// use serde::{Deserialize, Serialize};
/// use std::collections::VecDeque;
///
/// /// First in, first out.
/// #[derive(Debug, Default, Serialize, Deserialize)]
/// struct DocFifo {
///     queue: VecDeque<EntryKey>,
/// }
///
/// #[typetag::serde(name = "doc_fifo")]
/// impl ReplacementPolicy for DocFifo {
///     fn add(&mut self, key: EntryKey, _meta: &EntryMeta) {
///         self.invalidate(&key);
///         self.queue.push_back(key);
///     }
///     fn access(&mut self, _key: EntryKey, _meta: &EntryMeta) {}
///     fn invalidate(&mut self, key: &EntryKey) {
///         self.queue.retain(|k| k != key);
///     }
///     fn evict(&mut self) -> Option<EntryKey> {
///         self.queue.pop_front()
///     }
///     fn update(&mut self, other: &dyn ReplacementPolicy) {
///         if let Some(other) = other.as_any().downcast_ref::<DocFifo>() {
///             for k in &other.queue {
///                 if !self.queue.contains(k) {
///                     self.queue.push_back(*k);
///                 }
///             }
///         }
///     }
///     fn keys(&self) -> Vec<EntryKey> {
///         self.queue.iter().copied().collect()
///     }
/// }
///
/// charm_core::register_plugin!(ReplacementPolicy, "doc_fifo", "first in, first out (doc example)", new DocFifo::default);
///
/// let mut p = charm_core::new_policy("doc_fifo").unwrap();
/// let key = |i: u8| EntryKey { name: charm_freeze::hash(&i), args: charm_freeze::hash(&()) };
/// let meta = EntryMeta { size: 1, cost_ns: 1 };
/// p.add(key(1), &meta);
/// p.add(key(2), &meta);
/// assert_eq!(p.evict(), Some(key(1)));
/// ```
#[typetag::serde]
pub trait ReplacementPolicy: AsAny + Send + Sync + fmt::Debug {
    /// A new entry (or a new version of one).
    fn add(&mut self, key: EntryKey, meta: &EntryMeta);
    /// A hit on an entry.
    fn access(&mut self, key: EntryKey, meta: &EntryMeta);
    /// An entry removed for another reason than eviction.
    fn invalidate(&mut self, key: &EntryKey);
    /// The next victim, now forgotten.
    fn evict(&mut self) -> Option<EntryKey>;
    /// Merges another process's state of this policy.
    fn update(&mut self, other: &dyn ReplacementPolicy);
    /// Every tracked key.
    fn keys(&self) -> Vec<EntryKey>;
}
