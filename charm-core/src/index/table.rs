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

use super::format::{PolicyState, Snapshot, FORMAT};
use crate::entry::FunctionRecord;
use crate::{Entry, EntryKey, Error, Result, StoredReader};
use charm_freeze::Digest;
use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
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

fn record_check(record: &[u8], inline: &[u8]) -> u32 {
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

/// Encodes a snapshot (its entries in any order).
pub(crate) fn encode(snap: &Snapshot) -> Result<Vec<u8>> {
    let mut order: Vec<&(EntryKey, Entry)> = snap.entries.iter().collect();
    order.sort_by_key(|(k, _)| sort_key(k));
    let mut directory = Vec::with_capacity(order.len().div_ceil(BLOCK as usize) + 1);
    let mut blocks = Vec::with_capacity(order.len() * RECORD);
    for block in order.chunks(BLOCK as usize) {
        directory.push((blocks.len() as u64, prefix(&block[0].0)));
        let mut values = Vec::new();
        for (k, e) in block {
            write_record(&mut blocks, k, e, values.len() as u64)?;
            values.extend_from_slice(e.inline.as_deref().unwrap_or_default());
        }
        blocks.extend_from_slice(&values);
    }
    directory.push((blocks.len() as u64, u64::MAX));
    let meta = Meta {
        system: snap.system,
        functions: snap.functions.clone(),
        policy: snap.policy.clone(),
        folded: snap.folded.clone(),
    };
    let meta = postcard::to_stdvec(&meta).map_err(|e| Error::plugin("index encoding", e))?;
    let mut out = Vec::with_capacity(HEADER + directory.len() * ENTRY + blocks.len() + meta.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    for n in [
        snap.entries.len() as u64,
        blocks.len() as u64,
        meta.len() as u64,
        xxh3_64(&meta),
    ] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    out.extend_from_slice(snap.system.as_bytes());
    out.extend_from_slice(&[0u8; 8]);
    let header_check = xxh3_64(&out[..88]);
    out.extend_from_slice(&header_check.to_le_bytes());
    for (at, fence) in directory {
        out.extend_from_slice(&at.to_le_bytes());
        out.extend_from_slice(&fence.to_le_bytes());
    }
    out.extend_from_slice(&blocks);
    out.extend_from_slice(&meta);
    Ok(out)
}

/// Decodes a whole snapshot. Records that fail their check, or whose
/// block the directory misplaces, are left out and counted (their values
/// are recomputed); a damaged header or meta section makes the whole
/// snapshot corrupt.
pub(crate) fn decode(bytes: &[u8]) -> Result<(Snapshot, usize)> {
    let layout = Layout::parse(bytes, bytes.len() as u64)?;
    let bad = |why: &str| Error::corrupt("index snapshot", why);
    // The header's sum matched the length, so every section is in bounds.
    let meta = &bytes[layout.meta_at() as usize..];
    if xxh3_64(meta) != layout.meta_check {
        return Err(bad("checksum mismatch"));
    }
    let meta: Meta = postcard::from_bytes(meta).map_err(|e| bad(&format!("undecodable: {e}")))?;
    let blocks = &bytes[layout.blocks_at() as usize..layout.meta_at() as usize];
    let at = |i: u64| word(bytes, HEADER + i as usize * ENTRY);
    let mut entries = Vec::with_capacity(layout.records as usize);
    let mut damaged = 0;
    for b in 0..layout.blocks() {
        let Some((start, end)) = layout.block_span(b, at(b), at(b + 1)) else {
            damaged += layout.records_in(b) as usize;
            continue;
        };
        let block = &blocks[start as usize..end as usize];
        let (records, values) = block.split_at(layout.records_in(b) as usize * RECORD);
        for record in records.chunks_exact(RECORD) {
            match parse_record(record, |at, len| {
                let at = usize::try_from(at).ok()?;
                values.get(at..at.checked_add(len)?).map(<[u8]>::to_vec)
            }) {
                Some(kv) => entries.push(kv),
                None => damaged += 1,
            }
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

/// A block as read: its records, and their inline values when the block
/// was short enough to read whole.
#[derive(Debug)]
struct Block {
    records: Vec<u8>,
    /// Where the block's values start in the file, and how many bytes.
    values_at: u64,
    values_len: u64,
    values: Option<Vec<u8>>,
}

/// A snapshot opened for lookups in place.
#[derive(Debug)]
pub(crate) struct Table {
    reader: Box<dyn StoredReader>,
    layout: Layout,
    /// Chunks of the directory read so far: (start, fence) per block.
    directory: DashMap<u64, Arc<[(u64, u64)]>>,
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
            directory: DashMap::new(),
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

    /// Chunk `c` of the directory (read once): each block's start and
    /// fence, and the next chunk's first.
    fn chunk(&self, c: u64) -> Result<Arc<[(u64, u64)]>> {
        if let Some(e) = self.directory.get(&c) {
            return Ok(e.clone());
        }
        let first = c * DIRECTORY_CHUNK;
        let n = (DIRECTORY_CHUNK + 1).min((self.layout.blocks() + 1).saturating_sub(first));
        let mut raw = vec![0u8; n as usize * ENTRY];
        self.reader
            .read_at(HEADER as u64 + first * ENTRY as u64, &mut raw)?;
        let e: Arc<[(u64, u64)]> = raw
            .chunks_exact(ENTRY)
            .map(|w| (word(w, 0), word(w, 8)))
            .collect();
        self.directory.insert(c, e.clone());
        Ok(e)
    }

    /// Where block `b` starts and ends in the blocks, from the directory.
    fn span(&self, b: u64) -> Result<Option<(u64, u64)>> {
        let entries = self.chunk(b / DIRECTORY_CHUNK)?;
        let i = (b % DIRECTORY_CHUNK) as usize;
        Ok(match (entries.get(i), entries.get(i + 1)) {
            (Some(start), Some(end)) => self.layout.block_span(b, start.0, end.0),
            _ => None,
        })
    }

    /// The block whose fences hold `value`, from the directory: the chunk
    /// estimated from the value (then its neighbours), then the fence by
    /// bisection. `None` when the fences do not say (crafted ones).
    fn seek(&self, value: u64) -> Result<Option<u64>> {
        let chunks = self.layout.blocks().div_ceil(DIRECTORY_CHUNK);
        if chunks == 0 {
            return Ok(None);
        }
        let guess = (value as f64 / u64::MAX as f64 * chunks as f64) as u64;
        let mut c = guess.min(chunks - 1);
        for _ in 0..INTERPOLATIONS {
            let entries = self.chunk(c)?;
            let (Some(first), Some(after)) = (entries.first(), entries.last()) else {
                return Ok(None);
            };
            if value < first.1 && c > 0 {
                c -= 1;
            } else if value >= after.1 && c + 1 < chunks {
                c += 1;
            } else {
                let fences = &entries[..entries.len() - 1];
                let i = fences.partition_point(|e| e.1 <= value).saturating_sub(1);
                return Ok(Some(c * DIRECTORY_CHUNK + i as u64));
            }
        }
        Ok(None)
    }

    /// Block `b`: its records and (if it is short) their values, in one
    /// read, once.
    fn block(&self, b: u64) -> Result<Arc<Block>> {
        if let Some(block) = self.blocks.get(&b) {
            return Ok(block.clone());
        }
        let Some((start, end)) = self.span(b)? else {
            return Err(Error::corrupt("index snapshot", "a misplaced block"));
        };
        let at = self.layout.blocks_at() + start;
        let records_len = self.layout.records_in(b) as usize * RECORD;
        let whole = end - start <= BLOCK_READ;
        let mut bytes = vec![
            0u8;
            if whole {
                (end - start) as usize
            } else {
                records_len
            }
        ];
        self.reader.read_at(at, &mut bytes)?;
        let values = whole.then(|| bytes.split_off(records_len));
        let block = Arc::new(Block {
            records: bytes,
            values_at: at + records_len as u64,
            values_len: end - start - records_len as u64,
            values,
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

    /// The entry under `key`, if the table holds one that passes its check
    /// (a damaged one is `Err`).
    pub(crate) fn find(&self, key: &EntryKey) -> Result<Option<Entry>> {
        let target = sort_key(key);
        let blocks = self.layout.blocks();
        // The key lies in blocks [lo, hi); lo_v and hi_v bound its value.
        let (mut lo, mut hi) = (0u64, blocks);
        let (mut lo_v, mut hi_v) = (0u64, u64::MAX);
        let value = prefix(key);
        if let Some(b) = self.seek(value)? {
            let block = self.block(b)?;
            let mut records = block.records.chunks_exact(RECORD);
            let within = |r: Option<&[u8]>, below: bool| {
                r.is_some_and(|r| {
                    if below {
                        r[..64] <= target[..]
                    } else {
                        r[..64] >= target[..]
                    }
                })
            };
            if within(records.clone().next(), true) && within(records.clone().last(), false) {
                return match records.find(|r| r[..64] == target[..]) {
                    None => Ok(None),
                    Some(record) => self.entry(record, &block).map(Some),
                };
            }
        }
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
    /// what the block read, or else read.
    fn entry(&self, record: &[u8], block: &Block) -> Result<Entry> {
        let mut failed = None;
        let parsed = parse_record(record, |at, len| {
            let end = at.checked_add(len as u64)?;
            if end > block.values_len {
                return None;
            }
            if let Some(values) = &block.values {
                return values.get(at as usize..end as usize).map(<[u8]>::to_vec);
            }
            let mut value = vec![0u8; len];
            match self.reader.read_at(block.values_at + at, &mut value) {
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
