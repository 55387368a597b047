//! The engine's entries and objects, as the call path uses them: the
//! MATCH subkeys made current, objects read, written and deleted, entries
//! added and dropped (the policy and the event log told).

use super::Engine;
use crate::events::{emit, warn_failure, warn_once, Op};
use crate::keys::layout;
use crate::object::{self, ObjectMeta};
use crate::{Entry, EntryKey, EntryMeta, Error, Result, SubKeys};
use charm_freeze::{hash, Digest};

/// Whether an index entry names the object being read (else it is read
/// past any local copy: [`ObjStore::get_authoritative`](crate::ObjStore::get_authoritative)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Indexed {
    Yes,
    No,
}

/// An object as read from the store.
pub(crate) enum ObjectRead {
    /// Whole and written for the key asked for: its payload and trailer.
    Valid(Vec<u8>, ObjectMeta),
    Absent,
    /// Truncated, damaged, or another object's bytes.
    Corrupt(Error),
    /// The store failed (warned once).
    Unreadable,
}

impl Engine {
    /// The system state (subkey 1), made current: with an
    /// `extra_system_state`, it is evaluated now, and a change drops every
    /// entry of the group.
    ///
    /// # Errors
    ///
    /// When `extra_system_state` returns a value that cannot be frozen.
    pub(crate) fn update_system_state(&self) -> Result<Digest> {
        let Some(extra) = &self.extra_system_state else {
            return Ok(self.base_system); // it never changes: no lock to take
        };
        let current = *self.system.read().unwrap_or_else(|e| e.into_inner());
        let now = hash(&(self.base_system, extra()?));
        if now != current {
            let mut w = self.system.write().unwrap_or_else(|e| e.into_inner());
            if *w != now {
                *w = now;
                drop(w);
                let removed = self.index.clear();
                self.persist
                    .system_changed
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                self.cascade(removed, None, None, "system state changed");
            }
        }
        Ok(now)
    }

    /// Makes `keys.func_state` the current state of function `name`,
    /// dropping (and deleting) entries computed under another one.
    pub(crate) fn update_function_state(&self, name: &str, keys: &SubKeys) {
        if self.index.function_state(&keys.name) == Some(keys.func_state) {
            return;
        }
        let removed = self
            .index
            .set_function_state(keys.name, name, keys.func_state);
        self.cascade(removed, Some(name), Some(keys), "function state changed");
    }

    /// Deletes the objects of entries a MATCH subkey change removed, and
    /// reports them.
    pub(crate) fn cascade(
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
            self.removed(k, &e);
        }
        let detail = format!("{why}: {n} entries dropped");
        emit(Op::CascadingDelete, name, keys, None, &detail);
    }

    /// Tells the policy an entry left the index and deletes its object.
    pub(crate) fn removed(&self, key: EntryKey, e: &Entry) {
        self.policy.invalidated(key);
        if e.inline.is_none() {
            self.delete_object(&e.obj_key);
        }
    }

    /// Deletes a stored object (a failure is warned about).
    pub(crate) fn delete_object(&self, obj: &Digest) {
        if let Err(err) = self.store.delete(&layout::object(obj)) {
            let message = format!("cannot delete a cached object: {err}");
            warn_failure("delete", &err, &message);
        }
    }

    /// Removes an entry, if it still holds object `obj`, and deletes that
    /// object (unless the value was `inline`, in the index).
    pub(crate) fn drop_entry(&self, key: &EntryKey, obj: &Digest, inline: bool) {
        if self.index.remove(key, Some(obj)).is_some() {
            self.policy.invalidated(*key);
        }
        if !inline {
            self.delete_object(obj);
        }
    }

    /// Reads and verifies the object stored under `obj`.
    pub(crate) fn read_object(&self, obj: &Digest, indexed: Indexed) -> ObjectRead {
        let key = layout::object(obj);
        let mut check = object::PayloadCheck::new();
        let read = match indexed {
            Indexed::Yes => self
                .store
                .get_observed(&key, &mut |part| check.update(part)),
            Indexed::No => self.store.get_authoritative(&key),
        };
        match read {
            Ok(Some(mut bytes)) => match object::open(&bytes, obj, Some(&check)) {
                Ok((payload, meta)) => {
                    let len = payload.len();
                    bytes.truncate(len);
                    ObjectRead::Valid(bytes, meta)
                }
                Err(e) => ObjectRead::Corrupt(e),
            },
            Ok(None) => ObjectRead::Absent,
            Err(err) => {
                warn_once("read", &format!("cannot read from the cache store: {err}"));
                ObjectRead::Unreadable
            }
        }
    }

    /// Writes a sealed object; it is deleted at exit if its entry is never
    /// persisted.
    pub(crate) fn put_object(&self, obj: &Digest, sealed: &[u8]) -> Result<()> {
        self.store.put(&layout::object(obj), sealed)?;
        self.persist.note_unindexed(*obj);
        Ok(())
    }

    /// Adds (or replaces) an entry: the replaced object is deleted, the
    /// policy told; then fine-grain eviction and persistence.
    pub(crate) fn add_entry(&self, key: EntryKey, entry: Entry) -> Result<()> {
        let (obj, meta) = (entry.obj_key, entry.meta());
        if let Some(old) = self.index.insert(key, entry) {
            if old.obj_key != obj && old.inline.is_none() {
                self.delete_object(&old.obj_key);
            }
        }
        self.policy.added(key, meta);
        if self.settings.fine_grain_eviction && self.index.total_size() > self.settings.budget {
            self.evict_to_budget();
        }
        if self.settings.fine_grain_persistence {
            self.write_delta(true)?;
        }
        Ok(())
    }

    /// A hit on `key`: the persisted policy hears of it through the next
    /// index record, this process's policy once the group read the index.
    pub(crate) fn accessed(&self, key: EntryKey, meta: EntryMeta) {
        if self.policy.accessed(key, meta) {
            self.spill_hits();
        }
        self.look_at_hit_log_once_busy();
    }

    /// Removes one entry (and its object); true if there was one.
    pub(crate) fn remove_entry(&self, keys: &SubKeys, name: &str, why: &str) -> bool {
        let ek = keys.entry_key();
        let obj = match self.index.get(&ek) {
            Some(e) => {
                self.drop_entry(&ek, &e.obj_key, e.inline.is_some());
                e.obj_key
            }
            None => {
                // Not loaded (or stored by another process since): its
                // object is found by its key, and the persisted entry goes
                // at the next merge.
                let obj = keys.object_key();
                if !self.store.delete(&layout::object(&obj)).unwrap_or(false) {
                    return false;
                }
                self.index.remove_unloaded(ek, obj);
                obj
            }
        };
        emit(Op::CascadingDelete, Some(name), Some(keys), Some(&obj), why);
        true
    }

    /// Whether a call would hit, changing nothing.
    pub(crate) fn would_hit(&self, keys: &SubKeys) -> bool {
        let stored = |obj: &Digest| self.store.contains(&layout::object(obj)).unwrap_or(false);
        match self.index.get(&keys.entry_key()) {
            // Stored by another process, or not loaded: its object tells.
            None => stored(&keys.object_key()),
            Some(e) => {
                e.func_state == keys.func_state
                    && e.args_ver == keys.args_ver
                    && (e.inline.is_some() || stored(&e.obj_key))
            }
        }
    }
}
