//! The snapshot `index/base` as a table searched in place: a process finds
//! one entry with one read of a few KiB (after the first lookups, none),
//! however many the index holds, and never loads the rest.
//!
//! ```text
//! header (96 B): magic [8] | format u32 | 0 u32 | records u64 | block bytes u64
//!                | meta bytes u64 | xxh3-64(meta) u64 | system state [32] | 0 u64
//!                | xxh3-64(the 88 bytes before) u64
//! directory:     per block: where it starts in the blocks u64, its first argument key's
//!                first 8 bytes (big-endian) u64; then where the last block ends, u64::MAX
//! blocks:        20 records each (the last fewer), sorted by (argument key,
//!                function name), then the inline values of those records:
//!                args [32] name [32] obj [32] func_state [32] args_ver [32]
//!                size u64 compute_ns u64 serialize_ns u64 stamp u64
//!                inline offset in the block's values u64 | inline length u32 (u32::MAX: none)
//!                | low 32 bits of xxh3-64(the record's first 204 bytes, then its inline bytes)
//! meta:          postcard: system state, function records, policy state, folded deltas
//! ```
//!
//! Argument keys are digests, spread evenly over their range, so where a
//! key sits in the sorted table is well estimated from its value
//! (interpolation search): a lookup reads the block around the estimate,
//! its records and their small values in one read, and almost always
//! finds the key's place there. Every record carries its own check, so a
//! damaged record is one lost entry; nothing in the file decides how much
//! is read beyond the file's own length.

mod lookup;
#[cfg(test)]
mod tests;
mod whole;

pub(crate) use lookup::Table;
pub(crate) use whole::{decode, encode};

use super::format::{PolicyState, FORMAT};
use crate::entry::FunctionRecord;
use crate::{Entry, EntryKey, Error, Result};
use charm_freeze::Digest;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

const MAGIC: &[u8; 8] = b"CHARMIX3";
const HEADER: usize = 96;
const RECORD: usize = 208;
/// Bytes a record's check covers (all but the check).
const CHECKED: usize = RECORD - 4;
const NO_INLINE: u32 = u32::MAX;
/// Sizes above this (1 PiB) are refused as crafted.
const MAX_ENTRY_SIZE: u64 = 1 << 50;
/// Records per block (about 4 KiB of them).
const BLOCK: u64 = 20;
/// The longest block a lookup reads whole (its records and their small
/// values); a longer one holds large values kept in the index, which are
/// read one by one.
const BLOCK_READ: u64 = 64 << 10;
/// Directory entries read at once (8 KiB, and the next block's entry).
const DIRECTORY_CHUNK: u64 = 512;
/// Bytes of one directory entry.
const ENTRY: usize = 16;
/// Bytes of blocks a reader keeps (records and the small values read with
/// them), filled only by lookups, so repeated lookups read nothing; past
/// it, blocks go to make room for each one read.
const CACHED_BYTES: usize = 64 << 20;
/// Interpolation steps before a lookup falls back to bisection (a table
/// whose keys are not spread evenly: a crafted one).
const INTERPOLATIONS: usize = 6;

/// What the snapshot holds besides its entries.
#[derive(Serialize, Deserialize)]
struct Meta {
    system: Digest,
    functions: Vec<FunctionRecord>,
    policy: Option<PolicyState>,
    folded: Vec<String>,
}

/// The sizes a valid header declares.
#[derive(Debug, Clone, Copy)]
struct Layout {
    records: u64,
    block_bytes: u64,
    meta: u64,
    meta_check: u64,
    system: Digest,
}

impl Layout {
    fn blocks(&self) -> u64 {
        self.records.div_ceil(BLOCK)
    }

    /// Where the blocks start (after the directory).
    fn blocks_at(&self) -> u64 {
        HEADER as u64 + (self.blocks() + 1) * ENTRY as u64
    }

    fn meta_at(&self) -> u64 {
        self.blocks_at() + self.block_bytes
    }

    /// The records in block `b`.
    fn records_in(&self, b: u64) -> u64 {
        BLOCK.min(self.records - b * BLOCK)
    }

    /// Block `b`'s place in the blocks, from the directory's `start` and
    /// `end`, if they are sane: in order, within the blocks, and room for
    /// its records.
    fn block_span(&self, b: u64, start: u64, end: u64) -> Option<(u64, u64)> {
        let records = self.records_in(b) * RECORD as u64;
        (start <= end && end <= self.block_bytes && end - start >= records).then_some((start, end))
    }

    /// Reads and checks a header against the file's length.
    fn parse(header: &[u8], file_len: u64) -> Result<Layout> {
        let bad = |why: &str| Error::corrupt("index snapshot", why);
        if header.len() < HEADER || &header[..8] != MAGIC {
            return Err(bad("not a charm index snapshot (foreign or truncated)"));
        }
        let format = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
        if format != FORMAT {
            return Err(bad(&format!(
                "index format {format}, this charm reads {FORMAT}"
            )));
        }
        if word(header, 88) != xxh3_64(&header[..88]) {
            return Err(bad("header checksum mismatch"));
        }
        let layout = Layout {
            records: word(header, 16),
            block_bytes: word(header, 24),
            meta: word(header, 32),
            meta_check: word(header, 40),
            system: digest(header, 48),
        };
        let total = layout
            .records
            .div_ceil(BLOCK)
            .checked_add(1)
            .and_then(|d| d.checked_mul(ENTRY as u64))
            .and_then(|t| t.checked_add(HEADER as u64))
            .and_then(|t| t.checked_add(layout.block_bytes))
            .and_then(|t| t.checked_add(layout.meta));
        if total != Some(file_len) {
            return Err(bad("its sections do not add up to its length (truncated?)"));
        }
        if layout
            .records
            .checked_mul(RECORD as u64)
            .is_none_or(|r| r > layout.block_bytes)
        {
            return Err(bad("fewer bytes of blocks than its records take"));
        }
        Ok(layout)
    }
}

fn word(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

fn digest(b: &[u8], at: usize) -> Digest {
    let mut d = [0u8; 32];
    d.copy_from_slice(&b[at..at + 32]);
    Digest::from_bytes(d)
}

/// The first 8 bytes of a key's argument key, as a number: where the key
/// sits in the table, as a fraction of `u64::MAX`.
fn prefix(k: &EntryKey) -> u64 {
    u64::from_be_bytes(sort_key(k)[..8].try_into().unwrap_or_default())
}

/// The bytes a record is sorted and searched by: argument key, then name.
fn sort_key(k: &EntryKey) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(k.args.as_bytes());
    out[32..].copy_from_slice(k.name.as_bytes());
    out
}

/// The check of a record and its inline value: xxh3 of the two, one
/// after the other (hashed at once from a copy on the stack when they are
/// short, as they are on every tiny hit: the streaming hasher costs more
/// to set up than the copy).
fn record_check(record: &[u8], inline: &[u8]) -> u32 {
    let mut joined = [0u8; 512];
    let len = CHECKED + inline.len();
    if len <= joined.len() {
        joined[..CHECKED].copy_from_slice(&record[..CHECKED]);
        joined[CHECKED..len].copy_from_slice(inline);
        return xxh3_64(&joined[..len]) as u32;
    }
    let mut h = Xxh3::new();
    h.update(&record[..CHECKED]);
    h.update(inline);
    h.digest() as u32
}

/// Appends one record, its inline value at `inline_at` of its block's values.
fn write_record(out: &mut Vec<u8>, k: &EntryKey, e: &Entry, inline_at: u64) -> Result<()> {
    let start = out.len();
    out.extend_from_slice(&sort_key(k));
    for d in [&e.obj_key, &e.func_state, &e.args_ver] {
        out.extend_from_slice(d.as_bytes());
    }
    for n in [e.size, e.compute_ns, e.serialize_ns, e.stamp, inline_at] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    let len = match &e.inline {
        None => NO_INLINE,
        Some(v) => u32::try_from(v.len())
            .ok()
            .filter(|l| *l != NO_INLINE)
            .ok_or_else(|| Error::plugin("index encoding", "an inline value over 4 GiB"))?,
    };
    out.extend_from_slice(&len.to_le_bytes());
    let check = record_check(&out[start..], e.inline.as_deref().unwrap_or_default());
    out.extend_from_slice(&check.to_le_bytes());
    Ok(())
}

/// A record and its inline value (fetched by `inline(offset, len)`), if
/// its check holds and its fields are sane.
fn parse_record(
    b: &[u8],
    inline: impl FnOnce(u64, usize) -> Option<Vec<u8>>,
) -> Option<(EntryKey, Entry)> {
    let inline_len = u32::from_le_bytes([b[200], b[201], b[202], b[203]]);
    let inline = match inline_len {
        NO_INLINE => None,
        n => Some(inline(word(b, 192), usize::try_from(n).ok()?)?),
    };
    let check = u32::from_le_bytes([b[204], b[205], b[206], b[207]]);
    if check != record_check(b, inline.as_deref().unwrap_or_default()) {
        return None;
    }
    let key = EntryKey {
        args: digest(b, 0),
        name: digest(b, 32),
    };
    let entry = Entry {
        obj_key: digest(b, 64),
        func_state: digest(b, 96),
        args_ver: digest(b, 128),
        size: word(b, 160),
        compute_ns: word(b, 168),
        serialize_ns: word(b, 176),
        stamp: word(b, 184),
        inline,
    };
    (entry.size <= MAX_ENTRY_SIZE).then_some((key, entry))
}
