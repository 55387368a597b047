//! The snapshot searched in place (by every process).

use super::kept::{Held, Kept};
use super::{
    key_prefix, prefix, sort_key, word, Head, Layout, MetaHead, Span, BLOCK_READ, CACHED_BYTES,
    DIRECTORY_CHUNK, ENTRY, FIRST_READ, HEADER, INTERPOLATIONS,
};
use crate::index::format;
use crate::{Entry, EntryKey, Error, ReplacementPolicy, Result, StoredReader};
use charm_freeze::Digest;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use xxhash_rust::xxh3::Xxh3;

/// Blocks a process reads one by one before it reads each with its
/// neighbours: a process that hits a few entries reads no more than it
/// needs.
const SINGLE_READS: usize = 16;
/// Blocks read together past [`SINGLE_READS`], when their bytes are at
/// most [`GROUP_READ`] (about 30 KiB with tiny values).
const GROUP: u64 = 8;
const GROUP_READ: u64 = 128 << 10;

/// The error of a block the directory places where it cannot be.
fn misplaced() -> Error {
    Error::corrupt("index snapshot", "a misplaced block")
}

/// A directory entry: where a block starts in the blocks, its fence (its
/// first key's first 8 bytes), and its head's length.
type Fence = [u64; 3];

/// A block as read: its head, and its records' inline values when the
/// block was short enough to read whole.
#[derive(Debug)]
struct Block {
    /// Its head, then (if it was read whole) its values: one buffer.
    bytes: Vec<u8>,
    head_len: usize,
    /// How many records the head holds.
    records: usize,
    /// The bytes of the head's digests, found when the block was read.
    digests_len: usize,
    /// Whether `bytes` holds the values.
    whole: bool,
    /// Where the block's values start in the file, and how many bytes.
    values_at: u64,
    values_len: u64,
    /// Record `i`'s check held (bit `i`) on bytes all in `bytes`, which
    /// never change: a record found again is not hashed again.
    checked: AtomicU64,
}

impl Held for Block {
    fn held(&self) -> usize {
        self.bytes.capacity() + std::mem::size_of::<Block>()
    }
}

impl Block {
    /// Whether record `i`'s check held before (a bit of `checked`).
    fn was_checked(&self, i: usize) -> bool {
        let bit = u32::try_from(i).ok().and_then(|i| 1u64.checked_shl(i));
        bit.is_some_and(|bit| self.checked.load(Ordering::Relaxed) & bit != 0)
    }

    /// Remembers that record `i`'s check held on bytes all in the block.
    fn mark_checked(&self, i: usize) {
        if let Some(bit) = u32::try_from(i).ok().and_then(|i| 1u64.checked_shl(i)) {
            self.checked.fetch_or(bit, Ordering::Relaxed);
        }
    }

    /// Its head (parsed when the block was read).
    fn head(&self) -> Option<Head<'_>> {
        Head::split(&self.bytes[..self.head_len], self.records, self.digests_len)
    }

    /// The values of its records, if they were read with them.
    fn values(&self) -> Option<&[u8]> {
        self.whole.then(|| &self.bytes[self.head_len..])
    }
}

/// Where a key falls against a block's records.
enum Place {
    /// Before its first record (whose key's prefix this is).
    Before(u64),
    /// After its last record (whose key's prefix this is).
    After(u64),
    /// Among them: its record's index, if the block holds one.
    Within(Option<usize>),
}

/// `fences`: the block's fence and the next one's, from the directory
/// (already read, where the head's first and last prefixes would be two
/// more cache lines to touch), or `None` to take those.
fn place(head: &Head<'_>, target: &[u8; 64], fences: Option<(u64, u64)>) -> Place {
    // The first 8 bytes, compared as one integer, settle almost every
    // comparison of these digests without reading the record: the records
    // that can be the key's are found among the prefixes, from where the
    // key's value puts them.
    let t = key_prefix(target);
    let n = head.len();
    let lo = match n {
        0 => 0,
        _ => {
            let (low, high) = fences.unwrap_or_else(|| (head.prefix(0), head.prefix(n - 1)));
            let guess = interpolate(t, low, high, n);
            head.prefetch_record(guess);
            partition_near(n, guess, |i| head.prefix(i) < t)
        }
    };
    let found = (lo..n).take_while(|&i| head.prefix(i) == t).find(|&i| {
        head.key_rest(i)
            .is_some_and(|(args, name)| args == &target[8..32] && name == &target[32..])
    });
    if found.is_some() || n == 0 {
        return Place::Within(found);
    }
    // Not here: is the key before the block, after it, or missing from
    // it? A record whose bytes are damaged compares by its prefix alone.
    let order = |i: usize| {
        t.cmp(&head.prefix(i)).then_with(|| match head.key_rest(i) {
            Some((args, name)) => target[8..32].cmp(args).then_with(|| target[32..].cmp(name)),
            None => std::cmp::Ordering::Equal,
        })
    };
    if order(0).is_lt() {
        Place::Before(head.prefix(0))
    } else if order(n - 1).is_gt() {
        Place::After(head.prefix(n - 1))
    } else {
        Place::Within(None)
    }
}

/// Where `value` falls among `n` values spread evenly from `first` to
/// `last`: a guess for [`partition_near`].
fn interpolate(value: u64, first: u64, last: u64, n: usize) -> usize {
    if value <= first || last <= first {
        return 0;
    }
    let share = (value - first) as f64 / (last - first) as f64;
    (share.min(1.0) * n as f64) as usize
}

/// `(0..n).partition_point(below)`, walked to from `guess`: a few steps,
/// over neighbouring bytes, when the guess is close (as interpolation
/// makes it on keys spread evenly), where a bisection reads a cache line
/// per step. When `below` is not true on a prefix of the range (crafted
/// data), some index in `0..=n`, after at most `n` steps.
fn partition_near(n: usize, guess: usize, below: impl Fn(usize) -> bool) -> usize {
    let mut i = guess.min(n);
    while i > 0 && !below(i - 1) {
        i -= 1;
    }
    while i < n && below(i) {
        i += 1;
    }
    i
}

/// A chunk of the directory as read: its entries' bytes, kept as they
/// are (a copy into `Fence`s was a page more for every process to touch),
/// in the buffer they were read into from `at` on.
#[derive(Debug)]
struct Chunk {
    bytes: Vec<u8>,
    at: usize,
    len: usize,
}

impl Chunk {
    /// The entries in `bytes[at..at + len * ENTRY]`, which the caller
    /// checked are there.
    fn new(bytes: Vec<u8>, at: usize, len: usize) -> Chunk {
        Chunk { bytes, at, len }
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Entry `i`: (start, fence, head length).
    fn get(&self, i: usize) -> Option<Fence> {
        let at = self.at + i.checked_mul(ENTRY).filter(|_| i < self.len)?;
        let b = &self.bytes;
        Some([word(b, at), word(b, at + 8), word(b, at + 16)])
    }

    /// Entry `i`'s fence.
    fn fence(&self, i: usize) -> u64 {
        word(&self.bytes, self.at + i * ENTRY + 8)
    }
}

/// Bytes of the meta section [`Table::read_meta`] checks at a time.
const META_PART: u64 = 1 << 20;

/// Bytes of the meta section [`Table::read_meta`] reads first for its
/// head (more, doubled, until the head decodes).
const META_HEAD_READ: u64 = 16 << 10;

/// A snapshot's policy state, as a stream of its bytes.
#[derive(Debug)]
pub(crate) struct PolicyStream<'a> {
    /// The policy's registry name.
    pub(crate) name: String,
    pub(crate) state: StoredRange<'a>,
}

impl PolicyStream<'_> {
    /// The state decoded as it is read, holding a chunk of its bytes at a
    /// time (a ranking's; see `charm-policies`), not all of them (42 MB at
    /// a million entries); `None` if it does not decode. A state that
    /// needs more than [`STREAM_SCRATCH`] of its bytes at once (a custom
    /// policy's long lists of digests, say) is read again whole and
    /// decoded from those.
    pub(crate) fn decode(self) -> Option<Box<dyn ReplacementPolicy>> {
        let mut scratch = vec![0u8; STREAM_SCRATCH];
        let read = std::io::BufReader::with_capacity(STREAM_BUFFER, self.state);
        if let Ok((policy, _)) = postcard::from_io((read, &mut scratch[..])) {
            return Some(policy);
        }
        drop(scratch);
        postcard::from_bytes(&self.state.read_all().ok()?).ok()
    }
}

/// The bytes of a policy's state [`PolicyStream::decode`] holds at once,
/// besides its buffer: a ranking's chunk takes at most 240 KB.
const STREAM_SCRATCH: usize = 1 << 20;

/// The buffer [`PolicyStream::decode`] reads through.
const STREAM_BUFFER: usize = 256 << 10;

/// Bytes `at..end` of a stored value, read in order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StoredRange<'a> {
    reader: &'a dyn StoredReader,
    at: u64,
    end: u64,
}

impl<'a> StoredRange<'a> {
    /// All of `reader`'s bytes.
    #[cfg(feature = "testing")]
    pub(crate) fn whole(reader: &'a dyn StoredReader) -> StoredRange<'a> {
        StoredRange {
            reader,
            at: 0,
            end: reader.size(),
        }
    }

    /// What is left of them, read at once.
    pub(crate) fn read_all(self) -> Result<Vec<u8>> {
        // Within the value: a range is made within its length.
        let mut bytes = vec![0u8; (self.end - self.at) as usize];
        self.reader.read_at(self.at, &mut bytes)?;
        Ok(bytes)
    }
}

impl std::io::Read for StoredRange<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min((self.end - self.at) as usize);
        self.reader
            .read_at(self.at, &mut buf[..n])
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.at += n as u64;
        Ok(n)
    }
}

/// A snapshot opened for lookups in place.
#[derive(Debug)]
pub(crate) struct Table {
    reader: Box<dyn StoredReader>,
    layout: Layout,
    /// The index's head written with it (`None`: a table written without).
    head: Option<format::Head>,
    /// Chunks of the directory, each read once: (start, fence, head
    /// length) per block. A slot per chunk (one per 12 KiB of the
    /// directory, so bounded by the file's size), found without a hash or
    /// a lock.
    directory: Vec<OnceLock<Chunk>>,
    /// Blocks read so far (at most [`CACHED_BYTES`] of them).
    blocks: Kept<Block>,
    /// Reads of blocks so far: past [`SINGLE_READS`], a block is read with
    /// its neighbours.
    reads: AtomicUsize,
}

impl Table {
    /// Opens a snapshot: reads and checks its header and head, with the
    /// directory's first chunk if it is in the same first read.
    pub(crate) fn open(reader: Box<dyn StoredReader>) -> Result<Table> {
        if reader.size() < HEADER as u64 {
            return Err(Error::corrupt("index snapshot", "shorter than its header"));
        }
        let mut first = vec![0u8; reader.size().min(FIRST_READ) as usize];
        reader.read_at(0, &mut first)?;
        let layout = Layout::parse(&first, reader.size())?;
        let head_at = HEADER..HEADER + layout.head as usize; // within the file: parsed
        let head = match first.get(head_at.clone()) {
            _ if layout.head == 0 => None,
            Some(bytes) => Some(format::decode_head(bytes)?),
            None => {
                let mut bytes = vec![0u8; head_at.len()];
                reader.read_at(HEADER as u64, &mut bytes)?;
                Some(format::decode_head(&bytes)?)
            }
        };
        let table = Table {
            reader,
            layout,
            head,
            directory: (0..layout.blocks().div_ceil(DIRECTORY_CHUNK))
                .map(|_| OnceLock::new())
                .collect(),
            blocks: Kept::new(layout.blocks(), CACHED_BYTES),
            reads: AtomicUsize::new(0),
        };
        if let Some(slot) = table.directory.first() {
            let (at, len) = table.chunk_span(0);
            let held = usize::try_from(at)
                .ok()
                .filter(|at| at + len <= first.len());
            if let Some(at) = held {
                let _ = slot.set(Chunk::new(first, at, len / ENTRY));
            }
        }
        Ok(table)
    }

    /// The index's head written with the table, taken out of it (opening
    /// reads it once; lookups never do).
    pub(crate) fn take_index_head(&mut self) -> Option<format::Head> {
        self.head.take()
    }

    /// The same table, keeping at most `bytes` of blocks (at least the
    /// last one read).
    pub(crate) fn with_cache_limit(self, bytes: usize) -> Table {
        Table {
            blocks: self.blocks.with_limit(bytes),
            ..self
        }
    }

    /// Drops the blocks kept (they are read again if needed): a process
    /// about to fold frees what its lookups cached.
    pub(crate) fn forget_blocks(&self) {
        self.blocks.forget();
    }

    /// The bytes of blocks kept.
    #[cfg(test)]
    pub(crate) fn cached_bytes(&self) -> usize {
        self.blocks.bytes()
    }

    /// The number of records its header declares.
    pub(crate) fn len(&self) -> u64 {
        self.layout.records
    }

    /// The system state it was written under.
    pub(crate) fn system(&self) -> Digest {
        self.layout.system
    }

    /// All it holds besides its entries and its head, for a fold of hits
    /// only (which changes no entry): the system state, the function
    /// records and the records folded (its entries and policy left
    /// empty), and the policy's state as a stream. The meta section is
    /// read a part at a time, never whole (the policy's state is 42 MB at
    /// a million entries): once to check its sum, then its head, then the
    /// state as the stream is read.
    pub(crate) fn read_meta(&self) -> Result<(format::Snapshot, Option<PolicyStream<'_>>)> {
        let bad = |why: &str| Error::corrupt("index snapshot", why);
        // Within the file: the header's sizes add up to its length.
        let (at, len) = (self.layout.meta_at(), self.layout.meta);
        let mut sum = Xxh3::new();
        let mut part = vec![0u8; META_PART.min(len) as usize];
        let mut read = 0;
        while read < len {
            let n = META_PART.min(len - read) as usize;
            self.reader.read_at(at + read, &mut part[..n])?;
            sum.update(&part[..n]);
            read += n as u64;
        }
        if sum.digest() != self.layout.meta_check {
            return Err(bad("checksum mismatch"));
        }
        // Its head, read with more of the section until it decodes.
        let mut want = META_HEAD_READ.min(len);
        let (mut head, head_len) = loop {
            let mut bytes = vec![0u8; want as usize];
            self.reader.read_at(at, &mut bytes)?;
            match postcard::take_from_bytes::<MetaHead>(&bytes) {
                Ok((head, rest)) => break (head, want - rest.len() as u64),
                Err(postcard::Error::DeserializeUnexpectedEnd) if want < len => {
                    want = want.saturating_mul(2).min(len);
                }
                Err(e) => return Err(bad(&format!("undecodable: {e}"))),
            }
        };
        let state = StoredRange {
            reader: &*self.reader,
            at: at + head_len,
            end: at + len,
        };
        let policy = head
            .take_policy(len - head_len)?
            .map(|name| PolicyStream { name, state });
        let meta = format::Snapshot {
            system: head.system,
            functions: head.functions,
            entries: Vec::new(),
            policy: None,
            folded: head.folded,
        };
        Ok((meta, policy))
    }

    /// Chunk `c` of the directory (read once): each block's start and
    /// fence, and the next chunk's first.
    fn chunk(&self, c: u64) -> Result<Option<&Chunk>> {
        let Some(slot) = self.directory.get(c as usize) else {
            return Ok(None); // past the directory
        };
        if let Some(e) = slot.get() {
            return Ok(Some(e));
        }
        let (at, len) = self.chunk_span(c);
        let mut raw = vec![0u8; len];
        self.reader.read_at(at, &mut raw)?;
        Ok(Some(slot.get_or_init(|| Chunk::new(raw, 0, len / ENTRY))))
    }

    /// Where chunk `c` of the directory is in the file, and its length:
    /// its entries and the next chunk's first.
    fn chunk_span(&self, c: u64) -> (u64, usize) {
        let first = c * DIRECTORY_CHUNK;
        let n = (DIRECTORY_CHUNK + 1).min((self.layout.blocks() + 1).saturating_sub(first));
        let at = self.layout.directory_at() + first * ENTRY as u64;
        (at, n as usize * ENTRY)
    }

    /// Where block `b` is in the blocks, from the directory.
    fn span(&self, b: u64) -> Result<Option<Span>> {
        let Some(entries) = self.chunk(b / DIRECTORY_CHUNK)? else {
            return Ok(None);
        };
        let i = (b % DIRECTORY_CHUNK) as usize;
        Ok(match (entries.get(i), entries.get(i + 1)) {
            (Some(this), Some(next)) => self.layout.block_span(b, this[0], next[0], this[2]),
            _ => None,
        })
    }

    /// The block whose fences hold `value`, from the directory: the chunk
    /// estimated from the value (then its neighbours), then the fence by
    /// interpolation; with its fence and the next block's. `None` when the
    /// fences do not say (crafted ones).
    fn seek(&self, value: u64) -> Result<Option<(u64, (u64, u64))>> {
        let chunks = self.layout.blocks().div_ceil(DIRECTORY_CHUNK);
        if chunks == 0 {
            return Ok(None);
        }
        let guess = interpolate(value, 0, u64::MAX, chunks as usize) as u64;
        let mut c = guess.min(chunks - 1);
        for _ in 0..INTERPOLATIONS {
            let Some(entries) = self.chunk(c)?.filter(|e| e.len() > 0) else {
                return Ok(None);
            };
            let (first, after) = (entries.fence(0), entries.fence(entries.len() - 1));
            if value < first && c > 0 {
                c -= 1;
            } else if value >= after && c + 1 < chunks {
                c += 1;
            } else {
                let fences = entries.len() - 1;
                let high = entries.fence(fences.saturating_sub(1));
                let guess = interpolate(value, first, high, fences);
                let i = partition_near(fences, guess, |i| entries.fence(i) <= value);
                let i = i.saturating_sub(1);
                let next = entries.get(i + 1).map_or(u64::MAX, |f| f[1]);
                let bounds = (entries.fence(i), next);
                return Ok(Some((c * DIRECTORY_CHUNK + i as u64, bounds)));
            }
        }
        Ok(None)
    }

    /// Block `b`: its head and (if it is short) its values, in one read,
    /// once. A process that has read a few blocks reads the next ones with
    /// their neighbours ([`read_group`](Self::read_group)).
    fn block(&self, b: u64) -> Result<Arc<Block>> {
        if let Some(block) = self.blocks.get(b) {
            return Ok(block);
        }
        if self.reads.fetch_add(1, Ordering::Relaxed) >= SINGLE_READS {
            if let Some(block) = self.read_group(b)? {
                return Ok(block);
            }
        }
        let span = self.span(b)?.ok_or_else(misplaced)?;
        let at = self.layout.blocks_at() + span.start;
        let whole = span.end - span.start <= BLOCK_READ;
        // The span's bounds hold these to the file's length and MAX_HEAD.
        let len = if whole {
            span.end - span.start
        } else {
            span.head
        };
        let mut bytes = vec![0u8; len as usize];
        self.reader.read_at(at, &mut bytes)?;
        Ok(self.blocks.keep(b, self.parsed(b, bytes, span, whole)?))
    }

    /// The blocks of `b`'s group of [`GROUP`] neighbours, in one read, if
    /// they are all short enough to be read whole (those read before are
    /// kept as they are); block `b` of them. `None` (nothing read) when
    /// they are not (the caller reads `b` alone). Random lookups over a
    /// table read every block sooner or later: a read per group instead
    /// of per block took a twelfth off 20 000 tiny hits at 100 000
    /// entries, whose first reads of 1563 blocks were a sixth of them.
    fn read_group(&self, b: u64) -> Result<Option<Arc<Block>>> {
        let first = b - b % GROUP;
        let group = first..(first + GROUP).min(self.layout.blocks());
        let mut spans = Vec::with_capacity(GROUP as usize);
        for g in group.clone() {
            match self.span(g)? {
                Some(span) if span.end - span.start <= BLOCK_READ => spans.push(span),
                _ => return Ok(None),
            }
        }
        let (Some(start), Some(end)) =
            (spans.first().map(|s| s.start), spans.last().map(|s| s.end))
        else {
            return Ok(None);
        };
        // In order unless the directory changed between two reads of it
        // (written in place: crafted), which leaves `b` to be read alone.
        let Some(len) = end.checked_sub(start).filter(|len| *len <= GROUP_READ) else {
            return Ok(None);
        };
        let mut bytes = vec![0u8; len as usize];
        self.reader
            .read_at(self.layout.blocks_at() + start, &mut bytes)?;
        let mut wanted = None;
        for (g, span) in group.zip(spans) {
            if g != b && self.blocks.holds(g) {
                continue; // read before: kept as it is
            }
            // Each span lies within the group's: one block's end is the
            // next one's start, and a span is sane only if it ends after
            // it starts (unless the directory changed under the reads).
            let within = |at: u64| at.checked_sub(start).map(|at| at as usize);
            let own = match (within(span.start), within(span.end)) {
                (Some(from), Some(to)) => bytes.get(from..to),
                _ => None,
            };
            let Some(own) = own else {
                return Err(misplaced());
            };
            let block = self
                .blocks
                .keep(g, self.parsed(g, own.to_vec(), span, true)?);
            if g == b {
                wanted = Some(block);
            }
        }
        Ok(wanted)
    }

    /// Block `b` read as `bytes` (from `span`; whole, or its head alone).
    fn parsed(&self, b: u64, bytes: Vec<u8>, span: Span, whole: bool) -> Result<Block> {
        let records = self.layout.records_in(b) as usize;
        let Some(digests_len) =
            Head::parse(&bytes[..span.head as usize], records).map(|h| h.digests_len())
        else {
            return Err(Error::corrupt("index snapshot", "a damaged block head"));
        };
        Ok(Block {
            bytes,
            head_len: span.head as usize,
            records,
            digests_len,
            whole,
            values_at: self.layout.blocks_at() + span.start + span.head,
            values_len: span.end - span.start - span.head,
            checked: AtomicU64::new(0),
        })
    }

    /// Hands every entry to `each`, block after block in the table's
    /// order, each block read once and not kept (a fold that merges
    /// changes into the snapshot holds one block, not the index). `false`,
    /// at the first damaged block or record, having handed over those
    /// before: the fold that needs every entry is then the full one, which
    /// reports the damage.
    pub(crate) fn for_each_entry(&self, mut each: impl FnMut(EntryKey, Entry)) -> Result<bool> {
        for b in 0..self.layout.blocks() {
            let Some(span) = self.span(b)? else {
                return Ok(false);
            };
            // The span's bounds hold its length to the file's.
            let mut bytes = vec![0u8; (span.end - span.start) as usize];
            self.reader
                .read_at(self.layout.blocks_at() + span.start, &mut bytes)?;
            let (head, values) = bytes.split_at(span.head as usize);
            let records = self.layout.records_in(b) as usize;
            let Some(head) = Head::parse(head, records) else {
                return Ok(false);
            };
            for i in 0..records {
                let value = |at: u64, len: usize| {
                    let at = usize::try_from(at).ok()?;
                    values.get(at..at.checked_add(len)?).map(<[u8]>::to_vec)
                };
                let Some((k, e, derived)) = head.entry(i, value, false) else {
                    return Ok(false);
                };
                each(k, super::with_obj_key(self.layout.system, &k, e, derived));
            }
        }
        Ok(true)
    }

    /// The entry under `key`, if the table holds one that passes its check
    /// (a damaged one is `Err`).
    pub(crate) fn find(&self, key: &EntryKey) -> Result<Option<Entry>> {
        let found = self.find_underived(key)?;
        Ok(found.map(|(e, derived)| super::with_obj_key(self.layout.system, key, e, derived)))
    }

    /// [`find`](Self::find), except that an entry whose record left its
    /// object key out comes without it (zeros, and `true`): the digest of
    /// its five subkeys, which a caller holding them need not hash again.
    pub(crate) fn find_underived(&self, key: &EntryKey) -> Result<Option<(Entry, bool)>> {
        let target = sort_key(key);
        let value = prefix(key);
        if let Some((b, fences)) = self.seek(value)? {
            let block = self.block(b)?;
            let head = Self::head(&block)?;
            if let Place::Within(record) = place(&head, &target, Some(fences)) {
                return self.found(record, &head, &block);
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
                let guess = lo + interpolate(value, lo_v, hi_v, (hi - lo) as usize) as u64;
                guess.min(hi - 1)
            } else {
                lo + (hi - lo) / 2
            };
            let block = self.block(b)?;
            let head = Self::head(&block)?;
            match place(&head, &target, None) {
                Place::Before(first) => (hi, hi_v) = (b, first),
                Place::After(last) => (lo, lo_v) = (b + 1, last),
                Place::Within(record) => return self.found(record, &head, &block),
            }
        }
        Ok(None)
    }

    fn head(block: &Block) -> Result<Head<'_>> {
        block
            .head()
            .ok_or_else(|| Error::corrupt("index snapshot", "a damaged block head"))
    }

    /// The entry of record `i` found in `block`, if any.
    fn found(
        &self,
        i: Option<usize>,
        head: &Head<'_>,
        block: &Block,
    ) -> Result<Option<(Entry, bool)>> {
        i.map(|i| self.entry(i, head, block)).transpose()
    }

    /// Record `i` of `block` as an entry, its inline value taken from what
    /// the block read, or else read. Its check is computed once for the
    /// block's bytes; a value read apart is checked at every read.
    fn entry(&self, i: usize, head: &Head<'_>, block: &Block) -> Result<(Entry, bool)> {
        let mut failed = None;
        let mut read_apart = false;
        let parsed = head.entry(
            i,
            |at, len| {
                let end = at.checked_add(len as u64)?;
                if end > block.values_len {
                    return None;
                }
                if let Some(values) = block.values() {
                    return values.get(at as usize..end as usize).map(<[u8]>::to_vec);
                }
                read_apart = true;
                let mut value = vec![0u8; len];
                match self.reader.read_at(block.values_at + at, &mut value) {
                    Ok(()) => Some(value),
                    Err(e) => {
                        failed = Some(e);
                        None
                    }
                }
            },
            block.was_checked(i),
        );
        match (parsed, failed) {
            (Some((_, entry, derived)), _) => {
                if !read_apart {
                    block.mark_checked(i);
                }
                Ok((entry, derived))
            }
            (None, Some(e)) => Err(e),
            (None, None) => Err(Error::corrupt("index snapshot", "a damaged record")),
        }
    }
}
