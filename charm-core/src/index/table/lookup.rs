//! The snapshot searched in place (by every process).

use super::{
    parse_record, prefix, sort_key, word, Layout, BLOCK_READ, CACHED_BYTES, DIRECTORY_CHUNK, ENTRY,
    HEADER, INTERPOLATIONS, RECORD,
};
use crate::sharded::ShardedMap;
use crate::{BuildDigestHasher, Entry, EntryKey, Error, Result, StoredReader};
use charm_freeze::Digest;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// A directory entry: where a block starts in the blocks, and its fence
/// (its first key's first 8 bytes).
type Fence = (u64, u64);

/// A block as read: its records, and their inline values when the block
/// was short enough to read whole.
#[derive(Debug)]
struct Block {
    /// Its records, then (if it was read whole) their values: one buffer.
    bytes: Vec<u8>,
    records_len: usize,
    /// Whether `bytes` holds the values.
    whole: bool,
    /// Each record's key prefix, side by side: a search reads these few
    /// cache lines, and then the one record it compares whole.
    prefixes: Vec<u64>,
    /// Where the block's values start in the file, and how many bytes.
    values_at: u64,
    values_len: u64,
}

impl Block {
    /// The memory it holds.
    fn bytes(&self) -> usize {
        self.bytes.capacity() + self.prefixes.capacity() * 8
    }

    /// The values of its records, if they were read with them.
    fn values(&self) -> Option<&[u8]> {
        self.whole.then(|| &self.bytes[self.records_len..])
    }

    /// Record `i`, of the `prefixes.len()` the block holds.
    fn record(&self, i: usize) -> &[u8] {
        &self.bytes[i * RECORD..(i + 1) * RECORD]
    }
}

/// A key's first 8 bytes as one integer, which orders keys as those bytes do.
fn key_prefix(key: &[u8]) -> u64 {
    u64::from_be_bytes(key[..8].try_into().unwrap_or_default())
}

/// Where a key falls against a block's records.
enum Place<'b> {
    /// Before its first record (whose key's prefix this is).
    Before(u64),
    /// After its last record (whose key's prefix this is).
    After(u64),
    /// Among them: its record, if the block holds one.
    Within(Option<&'b [u8]>),
}

fn place<'b>(block: &'b Block, target: &[u8; 64]) -> Place<'b> {
    // The first 8 bytes, compared as one integer, settle almost every
    // comparison of these digests without reading the record.
    let t = key_prefix(target);
    let order = |i: usize| {
        t.cmp(&block.prefixes[i])
            .then_with(|| target[8..].cmp(&block.record(i)[8..64]))
    };
    let n = block.prefixes.len();
    if n > 0 && order(0).is_lt() {
        Place::Before(block.prefixes[0])
    } else if n > 0 && order(n - 1).is_gt() {
        Place::After(block.prefixes[n - 1])
    } else {
        let same_prefix = (0..n).filter(|&i| block.prefixes[i] == t);
        Place::Within(
            same_prefix
                .map(|i| block.record(i))
                .find(|r| r[8..64] == target[8..]),
        )
    }
}

/// A snapshot opened for lookups in place.
#[derive(Debug)]
pub(crate) struct Table {
    reader: Box<dyn StoredReader>,
    layout: Layout,
    /// Chunks of the directory, each read once: (start, fence) per block.
    /// A slot per chunk (one per 8 KiB of the directory, so bounded by
    /// the file's size), found without a hash or a lock.
    directory: Vec<OnceLock<Box<[Fence]>>>,
    /// Blocks read so far (at most [`CACHED_BYTES`] of them).
    blocks: ShardedMap<u64, Arc<Block>, BuildDigestHasher>,
    /// Their bytes (counted here: `blocks.len()` would lock every shard).
    cached: AtomicUsize,
    /// The most they may hold: [`CACHED_BYTES`].
    cache_limit: usize,
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
            directory: (0..layout.blocks().div_ceil(DIRECTORY_CHUNK))
                .map(|_| OnceLock::new())
                .collect(),
            blocks: ShardedMap::default(),
            cached: AtomicUsize::new(0),
            cache_limit: CACHED_BYTES,
        })
    }

    /// The same table, keeping at most `bytes` of blocks.
    #[cfg(test)]
    pub(crate) fn with_cache_limit(self, bytes: usize) -> Table {
        Table {
            cache_limit: bytes,
            ..self
        }
    }

    /// The bytes of blocks kept.
    #[cfg(test)]
    pub(crate) fn cached_bytes(&self) -> usize {
        self.cached.load(Ordering::Relaxed)
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
    fn chunk(&self, c: u64) -> Result<&[Fence]> {
        let Some(slot) = self.directory.get(c as usize) else {
            return Ok(&[]); // past the directory
        };
        if let Some(e) = slot.get() {
            return Ok(e);
        }
        let first = c * DIRECTORY_CHUNK;
        let n = (DIRECTORY_CHUNK + 1).min((self.layout.blocks() + 1).saturating_sub(first));
        let mut raw = vec![0u8; n as usize * ENTRY];
        self.reader
            .read_at(HEADER as u64 + first * ENTRY as u64, &mut raw)?;
        let e: Box<[Fence]> = raw
            .chunks_exact(ENTRY)
            .map(|w| (word(w, 0), word(w, 8)))
            .collect();
        Ok(slot.get_or_init(|| e))
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
        let block = Arc::new(Block {
            prefixes: bytes[..records_len]
                .chunks_exact(RECORD)
                .map(key_prefix)
                .collect(),
            bytes,
            records_len,
            whole,
            values_at: at + records_len as u64,
            values_len: end - start - records_len as u64,
        });
        let bytes = block.bytes();
        while self.cached.load(Ordering::Relaxed).saturating_add(bytes) > self.cache_limit {
            let some = self.blocks.iter().next().map(|b| *b.key());
            match some.and_then(|some| self.blocks.remove(&some)) {
                Some((_, gone)) => self.cached.fetch_sub(gone.bytes(), Ordering::Relaxed),
                None => break,
            };
        }
        // Counted before it can be found (and so removed by another
        // thread), so that the count never drops below what is held.
        self.cached.fetch_add(bytes, Ordering::Relaxed);
        if let Some(old) = self.blocks.insert(b, block.clone()) {
            self.cached.fetch_sub(old.bytes(), Ordering::Relaxed);
        }
        Ok(block)
    }

    /// The entry under `key`, if the table holds one that passes its check
    /// (a damaged one is `Err`).
    pub(crate) fn find(&self, key: &EntryKey) -> Result<Option<Entry>> {
        let target = sort_key(key);
        let value = prefix(key);
        if let Some(b) = self.seek(value)? {
            let block = self.block(b)?;
            if let Place::Within(record) = place(&block, &target) {
                return self.found(record, &block);
            }
        }
        // The fences did not say: search the blocks [lo, hi), whose keys'
        // prefixes lo_v and hi_v bound.
        let (mut lo, mut hi) = (0u64, self.layout.blocks());
        let (mut lo_v, mut hi_v) = (0u64, u64::MAX);
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
            match place(&block, &target) {
                Place::Before(first) => (hi, hi_v) = (b, first),
                Place::After(last) => (lo, lo_v) = (b + 1, last),
                Place::Within(record) => return self.found(record, &block),
            }
        }
        Ok(None)
    }

    /// The entry of a record found in `block`, if any.
    fn found(&self, record: Option<&[u8]>, block: &Block) -> Result<Option<Entry>> {
        record.map(|r| self.entry(r, block)).transpose()
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
            if let Some(values) = block.values() {
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
