//! The blocks a table keeps once read, found by their number.
//!
//! A block's slot is found by indexing, with no hash: a lookup in a map
//! of blocks (its shard's lock, the hash table's control bytes and
//! bucket, cold at a rerun's scale) took a twentieth of a tiny hit's
//! time at 100 000 entries.
//! Slots are made [`GROUP`] at a time, when the first block among them
//! is kept: a process that hits once touches a kilobyte of them, not a
//! slot for every block of the table (made, they take a quarter of a
//! byte per entry of the table; the groups, a few thousandths). Past the
//! byte limit, the blocks kept first go first.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// Slots made together.
const GROUP: usize = 64;

/// What a kept block stands for in memory.
pub(super) trait Held {
    /// Its bytes, counted against the limit.
    fn held(&self) -> usize;
}

type Slot<T> = Mutex<Option<Arc<T>>>;

/// Blocks kept by number, within a byte limit.
#[derive(Debug)]
pub(super) struct Kept<T> {
    /// Blocks `0..blocks` can be kept.
    blocks: u64,
    groups: Vec<OnceLock<Box<[Slot<T>; GROUP]>>>,
    /// The bytes of the blocks kept (counted here: adding up the slots
    /// would lock each).
    bytes: AtomicUsize,
    /// The numbers of the blocks kept, oldest first: the next to go when
    /// the limit is reached (a number whose block went otherwise is
    /// skipped).
    order: Mutex<VecDeque<u64>>,
    limit: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T: Held> Kept<T> {
    /// Room for blocks `0..blocks`, holding at most `limit` bytes (at
    /// least the last block kept).
    pub(super) fn new(blocks: u64, limit: usize) -> Kept<T> {
        let groups = usize::try_from(blocks).map_or(0, |b| b.div_ceil(GROUP));
        Kept {
            blocks,
            groups: (0..groups).map(|_| OnceLock::new()).collect(),
            bytes: AtomicUsize::new(0),
            order: Mutex::default(),
            limit,
        }
    }

    /// The same blocks, within `limit` bytes from now on.
    pub(super) fn with_limit(self, limit: usize) -> Kept<T> {
        Kept { limit, ..self }
    }

    /// Block `b`'s group of slots, if `b` is in range.
    fn group(&self, b: u64) -> Option<&OnceLock<Box<[Slot<T>; GROUP]>>> {
        let b = usize::try_from(b).ok().filter(|_| b < self.blocks)?;
        self.groups.get(b / GROUP)
    }

    /// Block `b`'s slot, if `b` is in range and a block near it was
    /// kept.
    fn slot(&self, b: u64) -> Option<&Slot<T>> {
        Some(&self.group(b)?.get()?[(b % GROUP as u64) as usize])
    }

    /// Block `b`, if it is kept.
    pub(super) fn get(&self, b: u64) -> Option<Arc<T>> {
        lock(self.slot(b)?).clone()
    }

    /// Whether block `b` is kept.
    pub(super) fn holds(&self, b: u64) -> bool {
        self.slot(b).is_some_and(|s| lock(s).is_some())
    }

    /// Keeps `block` as block `b` (replacing one kept), letting the
    /// oldest go to stay within the limit; a number out of range is not
    /// kept.
    pub(super) fn keep(&self, b: u64, block: T) -> Arc<T> {
        let block = Arc::new(block);
        let Some(group) = self.group(b) else {
            return block;
        };
        let bytes = block.held();
        let mut order = lock(&self.order);
        while self.bytes.load(Ordering::Relaxed).saturating_add(bytes) > self.limit {
            match order.pop_front() {
                Some(oldest) => self.remove(oldest),
                None => break,
            }
        }
        // Counted before it can be found (and so removed by another
        // thread), so that the count never drops below what is held.
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        let slots = group.get_or_init(|| Box::new(std::array::from_fn(|_| Mutex::new(None))));
        let slot = &slots[(b % GROUP as u64) as usize];
        if let Some(old) = lock(slot).replace(block.clone()) {
            self.bytes.fetch_sub(old.held(), Ordering::Relaxed);
        }
        order.push_back(b);
        block
    }

    /// Lets block `b` go, if it is kept.
    fn remove(&self, b: u64) {
        if let Some(gone) = self.slot(b).and_then(|s| lock(s).take()) {
            self.bytes.fetch_sub(gone.held(), Ordering::Relaxed);
        }
    }

    /// Lets every block go (they are read again if needed).
    pub(super) fn forget(&self) {
        let kept = std::mem::take(&mut *lock(&self.order));
        for b in kept {
            self.remove(b);
        }
    }

    /// The bytes of the blocks kept.
    #[cfg(test)]
    pub(super) fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Held for Vec<u8> {
        fn held(&self) -> usize {
            self.len()
        }
    }

    #[test]
    fn blocks_are_found_by_number_until_the_oldest_go_past_the_limit() {
        let kept = Kept::new(200, 300);
        assert!(kept.get(5).is_none() && !kept.holds(199));
        kept.keep(5, vec![5; 100]);
        kept.keep(130, vec![130; 100]);
        kept.keep(199, vec![199; 100]);
        assert_eq!(kept.get(130).map(|b| b[0]), Some(130));
        assert_eq!(kept.bytes(), 300);
        kept.keep(7, vec![7; 50]);
        assert!(!kept.holds(5), "the oldest went");
        assert!(kept.holds(130) && kept.holds(199) && kept.holds(7));
        assert_eq!(kept.bytes(), 250);
        kept.keep(7, vec![8; 10]);
        assert_eq!((kept.get(7).map(|b| b[0]), kept.bytes()), (Some(8), 210));
        kept.forget();
        assert!(!kept.holds(130) && !kept.holds(7));
        assert_eq!(kept.bytes(), 0);
    }

    #[test]
    fn a_number_out_of_range_is_not_kept() {
        let kept = Kept::new(3, 1000);
        assert_eq!(kept.keep(3, vec![1; 10])[0], 1);
        assert!(!kept.holds(3) && kept.get(u64::MAX).is_none());
        assert_eq!(kept.bytes(), 0);
    }
}
