//! The snapshot `index/base` as a table searched in place: a process finds
//! one entry with a read or two of a few KiB, however many the index holds,
//! and never loads the rest.
//!
//! ```text
//! header (96 B): magic [8] | format u32 | 0 u32 | records u64 | heap bytes u64
//!                | meta bytes u64 | xxh3-64(meta) u64 | system state [32] | 0 u64
//!                | xxh3-64(the 88 bytes before) u64
//! records:       fixed-width, sorted by (argument key, function name)
//!                args [32] name [32] obj [32] func_state [32] args_ver [32]
//!                size u64 compute_ns u64 serialize_ns u64 stamp u64
//!                inline offset u64 | inline length u32 (u32::MAX: none)
//!                | low 32 bits of xxh3-64(the record's first 204 bytes, then its inline bytes)
//! heap:          the inline values, where the records say
//! meta:          postcard: system state, function records, policy state, folded deltas
//! ```
//!
//! Argument keys are digests, spread evenly over their range, so where a
//! key sits in the sorted table is well estimated from its value
//! (interpolation search): a lookup reads the block of records around
//! the estimate, and almost always finds the key's place there. Every
//! record carries its own check, so a damaged record is one lost entry;
//! nothing in the file decides how much is read beyond the file's own
//! length.

use super::format::{PolicyState, Snapshot, FORMAT};
use crate::entry::FunctionRecord;
use crate::{Entry, EntryKey, Error, Result, StoredReader};
use charm_freeze::Digest;
use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

const MAGIC: &[u8; 8] = b"CHARMIX2";
const HEADER: usize = 96;
const RECORD: usize = 208;
/// Bytes a record's check covers (all but the check).
const CHECKED: usize = RECORD - 4;
const NO_INLINE: u32 = u32::MAX;
/// Sizes above this (1 PiB) are refused as crafted.
const MAX_ENTRY_SIZE: u64 = 1 << 50;
/// Records read at once by a lookup (a block of about 4 KiB).
const BLOCK: u64 = 20;
/// Blocks a reader keeps (about 64 MiB at most, filled only by lookups),
/// so repeated lookups read nothing; past it, one block goes per block read.
const CACHED_BLOCKS: usize = 16_384;
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
    heap: u64,
    meta: u64,
    meta_check: u64,
    system: Digest,
}

impl Layout {
    fn heap_at(&self) -> u64 {
        HEADER as u64 + self.records * RECORD as u64
    }

    fn meta_at(&self) -> u64 {
        self.heap_at() + self.heap
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
            heap: word(header, 24),
            meta: word(header, 32),
            meta_check: word(header, 40),
            system: digest(header, 48),
        };
        let total = layout
            .records
            .checked_mul(RECORD as u64)
            .and_then(|t| t.checked_add(HEADER as u64))
            .and_then(|t| t.checked_add(layout.heap))
            .and_then(|t| t.checked_add(layout.meta));
        if total != Some(file_len) {
            return Err(bad("its sections do not add up to its length (truncated?)"));
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

/// The bytes a record is sorted and searched by: argument key, then name.
fn sort_key(k: &EntryKey) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(k.args.as_bytes());
    out[32..].copy_from_slice(k.name.as_bytes());
    out
}

fn record_check(record: &[u8], inline: &[u8]) -> u32 {
    let mut h = Xxh3::new();
    h.update(&record[..CHECKED]);
    h.update(inline);
    h.digest() as u32
}

/// Encodes a snapshot (its entries in any order).
pub(crate) fn encode(snap: &Snapshot) -> Result<Vec<u8>> {
    let mut order: Vec<&(EntryKey, Entry)> = snap.entries.iter().collect();
    order.sort_by_key(|(k, _)| sort_key(k));
    let heap_len: usize = order
        .iter()
        .filter_map(|(_, e)| e.inline.as_ref())
        .map(Vec::len)
        .sum();
    let mut records = Vec::with_capacity(order.len() * RECORD);
    let mut heap = Vec::with_capacity(heap_len);
    for (k, e) in order {
        let start = records.len();
        records.extend_from_slice(&sort_key(k));
        for d in [&e.obj_key, &e.func_state, &e.args_ver] {
            records.extend_from_slice(d.as_bytes());
        }
        for n in [e.size, e.compute_ns, e.serialize_ns, e.stamp] {
            records.extend_from_slice(&n.to_le_bytes());
        }
        let inline: &[u8] = e.inline.as_deref().unwrap_or_default();
        let len = match &e.inline {
            None => NO_INLINE,
            Some(v) => u32::try_from(v.len())
                .ok()
                .filter(|l| *l != NO_INLINE)
                .ok_or_else(|| Error::plugin("index encoding", "an inline value over 4 GiB"))?,
        };
        records.extend_from_slice(&(heap.len() as u64).to_le_bytes());
        records.extend_from_slice(&len.to_le_bytes());
        heap.extend_from_slice(inline);
        let check = record_check(&records[start..], inline);
        records.extend_from_slice(&check.to_le_bytes());
    }
    let meta = Meta {
        system: snap.system,
        functions: snap.functions.clone(),
        policy: snap.policy.clone(),
        folded: snap.folded.clone(),
    };
    let meta = postcard::to_stdvec(&meta).map_err(|e| Error::plugin("index encoding", e))?;
    let mut out = Vec::with_capacity(HEADER + records.len() + heap.len() + meta.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    for n in [
        snap.entries.len() as u64,
        heap.len() as u64,
        meta.len() as u64,
        xxh3_64(&meta),
    ] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    out.extend_from_slice(snap.system.as_bytes());
    out.extend_from_slice(&[0u8; 8]);
    let header_check = xxh3_64(&out[..88]);
    out.extend_from_slice(&header_check.to_le_bytes());
    out.extend_from_slice(&records);
    out.extend_from_slice(&heap);
    out.extend_from_slice(&meta);
    Ok(out)
}

/// Decodes a whole snapshot. Records that fail their check are left out
/// and counted (their values are recomputed); a damaged header or meta
/// section makes the whole snapshot corrupt.
pub(crate) fn decode(bytes: &[u8]) -> Result<(Snapshot, usize)> {
    let layout = Layout::parse(bytes, bytes.len() as u64)?;
    let bad = |why: &str| Error::corrupt("index snapshot", why);
    // The header's sum matched the length, so every section is in bounds.
    let heap = &bytes[layout.heap_at() as usize..layout.meta_at() as usize];
    let meta = &bytes[layout.meta_at() as usize..];
    if xxh3_64(meta) != layout.meta_check {
        return Err(bad("checksum mismatch"));
    }
    let meta: Meta = postcard::from_bytes(meta).map_err(|e| bad(&format!("undecodable: {e}")))?;
    let table = &bytes[HEADER..layout.heap_at() as usize];
    let mut entries = Vec::with_capacity(layout.records as usize);
    let mut damaged = 0;
    for record in table.chunks_exact(RECORD) {
        match parse_record(record, |at, len| {
            let at = usize::try_from(at).ok()?;
            heap.get(at..at.checked_add(len)?).map(<[u8]>::to_vec)
        }) {
            Some(kv) => entries.push(kv),
            None => damaged += 1,
        }
    }
    let snap = Snapshot {
        system: meta.system,
        functions: meta.functions,
        entries,
        policy: meta.policy,
        folded: meta.folded,
    };
    Ok((snap, damaged))
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

/// Inline bytes a block's lookups read with the block, at most: the small
/// values of its records sit side by side in the heap (anything wider is
/// crafted, and read record by record).
const BLOCK_HEAP: u64 = BLOCK * 1024;

/// A block of records as read: the records, and the part of the heap
/// that holds their inline values.
#[derive(Debug)]
struct Block {
    records: Vec<u8>,
    heap_at: u64,
    heap: Vec<u8>,
}

impl Block {
    /// The inline bytes at `at..at + len` of the heap, if this block read them.
    fn inline(&self, at: u64, len: usize) -> Option<&[u8]> {
        let start = usize::try_from(at.checked_sub(self.heap_at)?).ok()?;
        self.heap.get(start..start.checked_add(len)?)
    }
}

/// A snapshot opened for lookups in place.
#[derive(Debug)]
pub(crate) struct Table {
    reader: Box<dyn StoredReader>,
    layout: Layout,
    /// Blocks read so far (at most [`CACHED_BLOCKS`]).
    blocks: DashMap<u64, Arc<Block>>,
}

impl Table {
    /// Opens a snapshot: reads and checks its header only.
    pub(crate) fn open(reader: Box<dyn StoredReader>) -> Result<Table> {
        let mut header = [0u8; HEADER];
        if reader.size() < HEADER as u64 {
            return Err(Error::corrupt("index snapshot", "shorter than its header"));
        }
        reader.read_at(0, &mut header)?;
        let layout = Layout::parse(&header, reader.size())?;
        Ok(Table {
            reader,
            layout,
            blocks: DashMap::new(),
        })
    }

    /// The number of records.
    #[cfg(test)]
    pub(crate) fn len(&self) -> u64 {
        self.layout.records
    }

    /// The system state it was written under.
    pub(crate) fn system(&self) -> Digest {
        self.layout.system
    }

    /// The block `b` of records and their inline values, read once.
    fn block(&self, b: u64) -> Result<Arc<Block>> {
        if let Some(block) = self.blocks.get(&b) {
            return Ok(block.clone());
        }
        let first = b * BLOCK;
        let n = BLOCK.min(self.layout.records - first);
        let mut records = vec![0u8; n as usize * RECORD];
        self.reader
            .read_at(HEADER as u64 + first * RECORD as u64, &mut records)?;
        let (heap_at, heap) = self.heap_of(&records)?;
        let block = Arc::new(Block {
            records,
            heap_at,
            heap,
        });
        if self.blocks.len() >= CACHED_BLOCKS {
            let some = self.blocks.iter().next().map(|b| *b.key());
            if let Some(some) = some {
                self.blocks.remove(&some);
            }
        }
        self.blocks.insert(b, block.clone());
        Ok(block)
    }

    /// The span of the heap that holds the inline values of `records`, if
    /// it is as narrow as small values make it (and within the heap).
    fn heap_of(&self, records: &[u8]) -> Result<(u64, Vec<u8>)> {
        let spans = records.chunks_exact(RECORD).filter_map(|r| {
            let len = u32::from_le_bytes([r[200], r[201], r[202], r[203]]);
            let at = word(r, 192);
            (len != NO_INLINE).then(|| (at, at.saturating_add(u64::from(len))))
        });
        let (start, end) = spans.fold((u64::MAX, 0), |(s, e), (a, b)| (s.min(a), e.max(b)));
        if start >= end || end - start > BLOCK_HEAP || end > self.layout.heap {
            return Ok((0, Vec::new()));
        }
        let mut heap = vec![0u8; (end - start) as usize];
        self.reader
            .read_at(self.layout.heap_at() + start, &mut heap)?;
        Ok((start, heap))
    }

    /// The entry under `key`, if the table holds one that passes its check
    /// (a damaged one is `Err`).
    pub(crate) fn find(&self, key: &EntryKey) -> Result<Option<Entry>> {
        let target = sort_key(key);
        let blocks = self.layout.records.div_ceil(BLOCK);
        // The key lies in blocks [lo, hi); lo_v and hi_v bound its value.
        let (mut lo, mut hi) = (0u64, blocks);
        let (mut lo_v, mut hi_v) = (0u64, u64::MAX);
        let value = u64::from_be_bytes(target[..8].try_into().unwrap_or_default());
        let mut step = 0;
        while lo < hi {
            step += 1;
            let b = if step <= INTERPOLATIONS && hi_v > lo_v {
                let frac = value.saturating_sub(lo_v) as f64 / (hi_v - lo_v) as f64;
                let guess = lo as f64 + frac * (hi - lo) as f64;
                (guess as u64).clamp(lo, hi - 1)
            } else {
                lo + (hi - lo) / 2
            };
            let block = self.block(b)?;
            let records = block.records.chunks_exact(RECORD);
            let (Some(first), Some(last)) = (records.clone().next(), records.clone().last()) else {
                return Ok(None);
            };
            if target[..] < first[..64] {
                hi = b;
                hi_v = u64::from_be_bytes(first[..8].try_into().unwrap_or_default());
            } else if target[..] > last[..64] {
                lo = b + 1;
                lo_v = u64::from_be_bytes(last[..8].try_into().unwrap_or_default());
            } else {
                return match records.into_iter().find(|r| r[..64] == target[..]) {
                    None => Ok(None),
                    Some(record) => self.entry(record, &block).map(Some),
                };
            }
        }
        Ok(None)
    }

    /// A found record of `block` as an entry, its inline value taken from
    /// what the block read of the heap, or else read.
    fn entry(&self, record: &[u8], block: &Block) -> Result<Entry> {
        let heap = self.layout.heap;
        let mut failed = None;
        let parsed = parse_record(record, |at, len| {
            if let Some(value) = block.inline(at, len) {
                return Some(value.to_vec());
            }
            let end = at.checked_add(len as u64)?;
            if end > heap {
                return None;
            }
            let mut value = vec![0u8; len];
            match self.reader.read_at(self.layout.heap_at() + at, &mut value) {
                Ok(()) => Some(value),
                Err(e) => {
                    failed = Some(e);
                    None
                }
            }
        });
        match (parsed, failed) {
            (Some((_, entry)), _) => Ok(entry),
            (None, Some(e)) => Err(e),
            (None, None) => Err(Error::corrupt("index snapshot", "a damaged record")),
        }
    }
}
