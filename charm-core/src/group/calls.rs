//! What a memoized call asks of its group: find, adopt, write, forget.

use super::{lock, Engine, PolicyEvent};
use crate::entry::stamp;
use crate::events::{emit, warn_failure, warn_once, Op};
use crate::keys::layout;
use crate::object::{self, ObjectMeta};
use crate::{Entry, EntryKey, EntryMeta, Result, SubKeys};
use charm_freeze::{hash, Digest};
use std::sync::{Arc, Mutex};

/// Bytes an entry's metadata is counted as with `use_metadata_size`.
pub(crate) const ENTRY_METADATA_BYTES: u64 = 256;

/// A value found in the cache: its serialized bytes and what it cost.
#[derive(Debug)]
pub(crate) struct Found {
    pub(crate) bytes: Vec<u8>,
    pub(crate) obj_key: Digest,
    pub(crate) compute_ns: u64,
    pub(crate) meta: EntryMeta,
}

/// How a value is stored, per function.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StoreOptions {
    pub(crate) use_obj_store: bool,
    pub(crate) use_metadata_size: bool,
}

fn meta(e: &Entry) -> EntryMeta {
    EntryMeta {
        size: e.size,
        cost_ns: e.cost_ns(),
    }
}

impl Engine {
    /// The system state (subkey 1). With an `extra_system_state`, it is
    /// evaluated now; a change drops every entry of the group.
    ///
    /// # Errors
    ///
    /// When `extra_system_state` returns a value that cannot be frozen.
    pub(crate) fn system(&self) -> Result<Digest> {
        let current = *self.system.read().unwrap_or_else(|e| e.into_inner());
        let Some(extra) = &self.extra_system_state else {
            return Ok(current);
        };
        let now = hash(&(self.base_system, extra()?));
        if now != current {
            let mut w = self.system.write().unwrap_or_else(|e| e.into_inner());
            if *w != now {
                *w = now;
                drop(w);
                let removed = self.index.clear();
                self.cascade(removed, None, None, "system state changed");
            }
        }
        Ok(now)
    }

    /// Makes `func_state` the current state of function `name`, dropping
    /// (and deleting) entries computed under another one.
    pub(crate) fn ensure_function(&self, name: &str, keys: &SubKeys) {
        if self
            .index
            .functions
            .get(&keys.name)
            .is_some_and(|f| f.record.func_state == keys.func_state)
        {
            return;
        }
        let removed = self
            .index
            .set_function_state(keys.name, name, keys.func_state);
        self.cascade(removed, Some(name), Some(keys), "function state changed");
    }

    /// Deletes the objects of entries a MATCH subkey change removed, and
    /// reports them.
    fn cascade(
        &self,
        removed: Vec<(EntryKey, Entry)>,
        name: Option<&str>,
        keys: Option<&SubKeys>,
        why: &str,
    ) {
        if removed.is_empty() {
            return;
        }
        let n = removed.len();
        for (k, e) in removed {
            self.note(PolicyEvent::Invalidate(k));
            self.delete_object(&e);
        }
        emit(
            Op::CascadingDelete,
            name,
            keys,
            None,
            &format!("{why}: {n} entries dropped"),
        );
    }

    pub(crate) fn delete_object(&self, e: &Entry) {
        if e.inline.is_none() {
            if let Err(err) = self.store.delete(&layout::object(&e.obj_key)) {
                let message = format!("cannot delete a cached object: {err}");
                warn_failure("delete", &err, &message);
            }
        }
    }

    fn drop_entry(&self, key: &EntryKey, e: &Entry) {
        if self.index.remove(key, Some(&e.obj_key)).is_some() {
            self.note(PolicyEvent::Invalidate(*key));
        }
        self.delete_object(e);
    }

    /// The cached value of a call, verified. With `mutate`, what does not
    /// match (another argument version, a missing or corrupt object) is
    /// removed; without, nothing changes.
    pub(crate) fn find(&self, keys: &SubKeys, name: &str, mutate: bool) -> Option<Found> {
        let ek = keys.entry_key();
        // Copy out what is needed while the shard is read-locked.
        let (entry_obj, compute_ns, m, inline) = {
            let e = self.index.entries.get(&ek)?;
            if e.func_state != keys.func_state {
                return None;
            }
            if e.args_ver != keys.args_ver {
                let stale = e.value().clone();
                drop(e);
                if mutate {
                    self.drop_entry(&ek, &stale);
                    let why = "argument version changed";
                    emit(
                        Op::CascadingDelete,
                        Some(name),
                        Some(keys),
                        Some(&stale.obj_key),
                        why,
                    );
                }
                return None;
            }
            (e.obj_key, e.compute_ns, meta(&e), e.inline.clone())
        };
        let found = |bytes| Found {
            bytes,
            obj_key: entry_obj,
            compute_ns,
            meta: m,
        };
        if let Some(v) = inline {
            return Some(found(v));
        }
        match self.store.get(&layout::object(&entry_obj)) {
            Ok(Some(mut bytes)) => match object::open(&bytes, &entry_obj) {
                Ok((payload, _)) => {
                    let len = payload.len();
                    bytes.truncate(len);
                    Some(found(bytes))
                }
                Err(err) => {
                    if mutate {
                        if self.index.remove(&ek, Some(&entry_obj)).is_some() {
                            self.note(PolicyEvent::Invalidate(ek));
                        }
                        let _ = self.store.delete(&layout::object(&entry_obj));
                        emit(
                            Op::Corrupt,
                            Some(name),
                            Some(keys),
                            Some(&entry_obj),
                            &err.to_string(),
                        );
                    }
                    None
                }
            },
            Ok(None) => {
                if mutate && self.index.remove(&ek, Some(&entry_obj)).is_some() {
                    // Evicted by another process: forget it.
                    self.note(PolicyEvent::Invalidate(ek));
                }
                None
            }
            Err(err) => {
                warn_once("read", &format!("cannot read from the cache store: {err}"));
                None
            }
        }
    }

    /// Takes over an object another process stored for exactly this call
    /// but this process's index does not know yet.
    pub(crate) fn adopt(
        &self,
        keys: &SubKeys,
        name: &str,
        opts: super::calls::StoreOptions,
    ) -> Option<Found> {
        let obj = keys.object_key();
        let store_key = layout::object(&obj);
        let mut bytes = self.store.get(&store_key).ok()??;
        let (payload, meta_) = match object::open(&bytes, &obj) {
            Ok(x) => x,
            Err(err) => {
                let _ = self.store.delete(&store_key);
                emit(
                    Op::Corrupt,
                    Some(name),
                    Some(keys),
                    Some(&obj),
                    &err.to_string(),
                );
                return None;
            }
        };
        let payload_len = payload.len();
        let size = bytes.len() as u64
            + if opts.use_metadata_size {
                ENTRY_METADATA_BYTES
            } else {
                0
            };
        bytes.truncate(payload_len);
        let entry = Entry {
            obj_key: obj,
            func_state: keys.func_state,
            args_ver: keys.args_ver,
            size,
            compute_ns: meta_.compute_ns,
            serialize_ns: meta_.serialize_ns,
            stamp: stamp(),
            inline: None,
        };
        let m = meta(&entry);
        self.index.insert(keys.entry_key(), entry);
        self.note(PolicyEvent::Add(keys.entry_key(), m));
        if let Err(err) = self.after_insert() {
            let message = format!("cannot persist the cache index: {err}");
            warn_failure("persist", &err, &message);
        }
        Some(Found {
            bytes,
            obj_key: obj,
            compute_ns: meta_.compute_ns,
            meta: m,
        })
    }

    /// A hit: tells the policy and counts the time saved.
    pub(crate) fn record_hit(&self, keys: &SubKeys, name: &str, found: &Found, overhead_ns: u64) {
        self.note(PolicyEvent::Access(keys.entry_key(), found.meta));
        if !self.read_index {
            self.index.note_access(keys.entry_key());
        }
        if let Some(f) = self.index.functions.get(&keys.name) {
            f.live.hit(overhead_ns, found.compute_ns);
        }
        emit(Op::Hit, Some(name), Some(keys), Some(&found.obj_key), "");
    }

    /// A miss's caching overhead.
    pub(crate) fn record_miss(&self, keys: &SubKeys, overhead_ns: u64) {
        if let Some(f) = self.index.functions.get(&keys.name) {
            f.live.miss(overhead_ns);
        }
    }

    /// Discards a cached value that could not be deserialized.
    pub(crate) fn forget(&self, keys: &SubKeys, name: &str, why: &str) {
        let ek = keys.entry_key();
        if let Some(e) = self.index.entries.get(&ek).map(|e| e.value().clone()) {
            self.drop_entry(&ek, &e);
            emit(Op::Corrupt, Some(name), Some(keys), Some(&e.obj_key), why);
        }
    }

    /// Stores a computed value and its entry.
    pub(crate) fn write(
        &self,
        keys: &SubKeys,
        name: &str,
        payload: Vec<u8>,
        compute_ns: u64,
        serialize_ns: u64,
        opts: StoreOptions,
    ) -> Result<()> {
        let obj = keys.object_key();
        let metadata = if opts.use_metadata_size {
            ENTRY_METADATA_BYTES
        } else {
            0
        };
        let (size, inline) = if opts.use_obj_store {
            let sealed = object::seal(
                payload,
                &ObjectMeta {
                    key: obj,
                    compute_ns,
                    serialize_ns,
                },
            );
            self.store.put(&layout::object(&obj), &sealed)?;
            self.note_unindexed(obj);
            (sealed.len() as u64 + metadata, None)
        } else {
            let counted = if opts.use_metadata_size {
                payload.len() as u64 + metadata
            } else {
                0
            };
            (counted, Some(payload))
        };
        let entry = Entry {
            obj_key: obj,
            func_state: keys.func_state,
            args_ver: keys.args_ver,
            size,
            compute_ns,
            serialize_ns,
            stamp: stamp(),
            inline,
        };
        let ek = keys.entry_key();
        let m = meta(&entry);
        if let Some(old) = self.index.insert(ek, entry) {
            if old.obj_key != obj {
                self.delete_object(&old);
            }
        }
        self.note(PolicyEvent::Add(ek, m));
        emit(Op::Miss, Some(name), Some(keys), Some(&obj), "");
        self.after_insert()
    }

    /// Fine-grain eviction and persistence after an entry was added.
    fn after_insert(&self) -> Result<()> {
        if self.fine_grain_eviction && self.index.total_size() > self.budget {
            self.evict_to_budget();
        }
        if self.fine_grain_persistence {
            self.write_delta()?;
        }
        Ok(())
    }

    /// The mutex that makes concurrent identical misses of this process
    /// compute once; pass it back to [`flight_done`](Self::flight_done).
    pub(crate) fn flight(&self, key: EntryKey) -> Arc<Mutex<()>> {
        self.in_flight
            .entry(key)
            .or_insert_with(|| Arc::new(Mutex::new(())))
            .clone()
    }

    pub(crate) fn flight_done(&self, key: &EntryKey, slot: &Arc<Mutex<()>>) {
        // The map and this caller hold it: nobody else is waiting.
        self.in_flight.remove_if(key, |_, s| {
            Arc::ptr_eq(s, slot) && Arc::strong_count(s) <= 2
        });
    }

    /// Removes one entry (and its object); true if there was one.
    pub(crate) fn clear_entry(&self, keys: &SubKeys, name: &str, why: &str) -> bool {
        let ek = keys.entry_key();
        let Some(e) = self.index.entries.get(&ek).map(|e| e.value().clone()) else {
            // Not loaded (or stored by another process since): its object
            // is found by its key, and the persisted entry goes at the next
            // merge.
            let obj = keys.object_key();
            if !self.store.delete(&layout::object(&obj)).unwrap_or(false) {
                return false;
            }
            self.index.remove_unloaded(ek, obj);
            emit(Op::CascadingDelete, Some(name), Some(keys), Some(&obj), why);
            return true;
        };
        self.drop_entry(&ek, &e);
        emit(
            Op::CascadingDelete,
            Some(name),
            Some(keys),
            Some(&e.obj_key),
            why,
        );
        true
    }

    /// The verified payload of the object stored for exactly this call,
    /// whether or not the index knows it; changes nothing.
    pub(crate) fn peek(&self, keys: &SubKeys) -> Option<Vec<u8>> {
        let obj = keys.object_key();
        let mut bytes = self.store.get(&layout::object(&obj)).ok()??;
        let len = object::open(&bytes, &obj).ok()?.0.len();
        bytes.truncate(len);
        Some(bytes)
    }

    /// Whether a call would hit, changing nothing.
    pub(crate) fn would_hit(&self, keys: &SubKeys) -> bool {
        let Some(e) = self
            .index
            .entries
            .get(&keys.entry_key())
            .map(|e| e.value().clone())
        else {
            // Stored by another process, or not loaded: its object tells.
            return self
                .store
                .contains(&layout::object(&keys.object_key()))
                .unwrap_or(false);
        };
        e.func_state == keys.func_state
            && e.args_ver == keys.args_ver
            && (e.inline.is_some()
                || self
                    .store
                    .contains(&layout::object(&e.obj_key))
                    .unwrap_or(false))
    }

    pub(crate) fn lock_flight(slot: &Mutex<()>) -> std::sync::MutexGuard<'_, ()> {
        lock(slot)
    }
}
