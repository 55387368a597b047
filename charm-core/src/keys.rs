//! The five-part key of a call, and where things live in a store.

use charm_freeze::{hash, Digest};
use serde::{Deserialize, Serialize};

/// The five subkeys of one call (see the crate docs for their roles).
///
/// ```
/// use charm_core::SubKeys;
/// use charm_freeze::hash;
/// let k = SubKeys {
///     system: hash(&1u8),
///     name: hash(&"f"),
///     func_state: hash(&2u8),
///     args_key: hash(&(3u8,)),
///     args_ver: hash(&()),
/// };
/// // Two workers computing the same call write the same object.
/// assert_eq!(k.object_key(), k.clone().object_key());
/// assert_eq!(k.entry_key().name, k.name);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SubKeys {
    /// 1, MATCH: index and encoding versions, pickler, `extra_system_state`.
    pub system: Digest,
    /// 2, LOOKUP: the function's name.
    pub name: Digest,
    /// 3, MATCH: the function's code, deps, version and `extra_func_state`.
    pub func_state: Digest,
    /// 4, LOOKUP: the arguments' cache keys.
    pub args_key: Digest,
    /// 5, MATCH: the arguments' versions.
    pub args_ver: Digest,
}

impl SubKeys {
    /// The key of the stored object: the digest of all five subkeys.
    pub fn object_key(&self) -> Digest {
        hash(&(
            self.system,
            self.name,
            self.func_state,
            self.args_key,
            self.args_ver,
        ))
    }

    /// The index key of the entry: function name and argument key.
    pub fn entry_key(&self) -> EntryKey {
        EntryKey {
            name: self.name,
            args: self.args_key,
        }
    }
}

/// Identifies an entry in the index (and in replacement policies): the two
/// LOOKUP subkeys, function name and argument key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntryKey {
    /// The function's name digest.
    pub name: Digest,
    /// The arguments' key digest.
    pub args: Digest,
}

impl EntryKey {
    /// A small shard number for spreading work over locks.
    pub(crate) fn shard(&self, shards: usize) -> usize {
        (self.args.as_bytes()[0] as usize ^ self.name.as_bytes()[1] as usize) % shards
    }
}

/// Where the engine keeps things in an [`ObjStore`](crate::ObjStore).
///
/// Objects live under `obj/<first two hex digits>/<64 hex digits>`; the
/// index under `index/` (a `base` snapshot and `delta-*` records). Stores
/// map `/` to their own notion of folders.
pub mod layout {
    use charm_freeze::Digest;

    /// The prefix of every object key.
    pub const OBJECTS: &str = "obj/";
    /// The prefix of the index's keys.
    pub const INDEX: &str = "index/";
    /// The index snapshot.
    pub const BASE: &str = "index/base";
    /// The prefix of delta records that change entries or function states
    /// (a process that has not read the index whole reads them at open).
    pub const DELTA: &str = "index/delta-";
    /// The prefix of delta records of hits and usage only (read by whoever
    /// folds them into the snapshot).
    pub const HITS: &str = "index/hits-";
    /// The log processes that only hit append their hits to, on a store
    /// that keeps logs ([`ObjStore::append`](crate::ObjStore::append)); a
    /// fold takes it as one more record of hits.
    pub const HIT_LOG: &str = "index/hitlog";
    /// The log a process holding the whole index appends its records of
    /// changes to (a `fine_grain_persistence` group, one per miss), on a
    /// store that keeps logs: no file created per record. Opening reads it
    /// with the records; a fold takes it as one more record of changes.
    pub const CHANGE_LOG: &str = "index/changelog";

    /// What a process reads at open instead of the whole index: the
    /// system and function states, entries and bytes of the last snapshot
    /// (which holds a copy, read instead on a store committed under the
    /// lock: one file to open).
    pub const HEAD: &str = "index/head";
    /// On a store committed under the lock: there is a delta record that
    /// opening must read. A writer of a record makes sure it is there
    /// after writing it, and a fold deletes it before listing the records,
    /// so a process that opens finds neither marker only when every
    /// record is folded, and then lists nothing.
    pub const PENDING: &str = "index/pending";
    /// On a store committed under the lock: a fold that deleted
    /// [`PENDING`] is under way, or was killed before it finished (its
    /// records are then still to be read at open).
    pub const FOLDING: &str = "index/folding";
    /// The prefix under which a corrupt index is set aside.
    pub const CORRUPT: &str = "index/corrupt-";

    /// The store key of the object with this digest.
    pub fn object(key: &Digest) -> String {
        let hex = key.to_hex();
        format!("{OBJECTS}{}/{hex}", &hex[..2])
    }

    /// The digest named by an object's store key, if it is one.
    pub fn parse_object(store_key: &str) -> Option<Digest> {
        let rest = store_key.strip_prefix(OBJECTS)?;
        let (fan, hex) = rest.split_once('/')?;
        let d: Digest = hex.parse().ok()?;
        (hex.starts_with(fan) && fan.len() == 2).then_some(d)
    }
}
