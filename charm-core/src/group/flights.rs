//! Single flight: concurrent identical misses of one process compute once.
//!
//! The first caller to miss holds the call's [`FlightGuard`] while it
//! computes; the others wait in [`Flights::enter`], then find the value.

use crate::sharded::{ShardedMap, FEW};
use crate::{BuildDigestHasher, EntryKey};
use std::sync::{Arc, Condvar, Mutex};

/// The calls being computed in this process.
#[derive(Debug, Default)]
pub(crate) struct Flights {
    slots: ShardedMap<EntryKey, Arc<Slot>, BuildDigestHasher, FEW>,
}

#[derive(Debug, Default)]
struct Slot {
    state: Mutex<SlotState>,
    free: Condvar,
}

#[derive(Debug, Default)]
struct SlotState {
    busy: bool,
    /// Callers waiting for the slot: leaving it wakes one only if there is
    /// one (a condvar's notify is a system call even when nobody waits,
    /// and almost every miss has nobody waiting).
    waiting: usize,
}

/// Holds one call: no other caller of this process enters it until the
/// guard is dropped. It owns no borrowed lock guard, so it may be held
/// across an `.await` and moved between threads.
#[derive(Debug)]
pub(crate) struct FlightGuard<'a> {
    flights: &'a Flights,
    key: EntryKey,
    slot: Arc<Slot>,
}

impl Flights {
    /// Waits until no other caller of this process holds `key`, then holds it.
    pub(crate) fn enter(&self, key: EntryKey) -> FlightGuard<'_> {
        let slot = self.slots.entry(key).or_default().clone();
        let mut state = lock(&slot);
        while state.busy {
            state.waiting += 1;
            state = slot.free.wait(state).unwrap_or_else(|e| e.into_inner());
            state.waiting -= 1;
        }
        state.busy = true;
        drop(state);
        FlightGuard {
            flights: self,
            key,
            slot,
        }
    }
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        let waiting = {
            let mut state = lock(&self.slot);
            state.busy = false;
            state.waiting
        };
        if waiting > 0 {
            self.slot.free.notify_one();
        }
        // Held by the map and this guard only: nobody is waiting.
        self.flights.slots.remove_if(&self.key, |_, s| {
            Arc::ptr_eq(s, &self.slot) && Arc::strong_count(s) <= 2
        });
    }
}

fn lock(slot: &Slot) -> std::sync::MutexGuard<'_, SlotState> {
    slot.state.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use charm_freeze::hash;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn one_caller_at_a_time_per_key_and_no_slot_left_behind() {
        let flights = Flights::default();
        let key = EntryKey {
            name: hash(&"f"),
            args: hash(&1u8),
        };
        let inside = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..100 {
                        let _g = flights.enter(key);
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert!(flights.slots.is_empty());
    }
}
