//! `Unordered`: any iterable, hashed as a multiset.

use crate::{Freeze, Freezer};

/// Freezes any iterable as a multiset: the order of its items never
/// changes the digest, their multiplicity does.
///
/// Wrap a cheap-to-clone iterator (`v.iter()`, `map.values()`): it is
/// cloned to count and to walk the items.
///
/// ```
/// use charm_freeze::{hash, Unordered};
/// let a = vec![3, 1, 2];
/// let b = vec![1, 2, 3];
/// assert_eq!(hash(&Unordered(a.iter())), hash(&Unordered(b.iter())));
/// assert_ne!(hash(&Unordered([1, 1].iter())), hash(&Unordered([1].iter())));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Unordered<I>(pub I);

impl<I> Freeze for Unordered<I>
where
    I: IntoIterator + Clone,
    I::Item: Freeze,
{
    fn freeze(&self, f: &mut Freezer) {
        let len = self.0.clone().into_iter().count();
        f.set(len, |s| {
            for x in self.0.clone() {
                s.element(&x);
            }
        });
    }
    forward_ver!();
}
