//! The snapshot written and read whole (by a fold).

use super::{
    prefix, sort_key, split_meta, with_obj_key, word, write_block, Head, Layout, MetaHeadOut,
    BLOCK, ENTRY, HEADER, MAGIC, SLOT,
};
use crate::index::format::{PolicyState, Snapshot, FORMAT};
use crate::{Entry, EntryKey, Error, ReplacementPolicy, Result, StoredReader};
use charm_freeze::Digest;
use std::borrow::Borrow;
use std::io::Write;
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

/// Encodes a snapshot (its entries in any order), with `head` (an encoded
/// index head, or nothing) after the header, and the policy's state
/// `live`'s, encoded as it is written, if it is given (else the one `snap`
/// holds). A fold encodes it in two parts ([`encode_blocks`]).
#[cfg(any(test, feature = "testing"))]
pub(crate) fn encode<E: Borrow<Entry>>(
    snap: &Snapshot<E>,
    live: Option<&dyn ReplacementPolicy>,
    head: &[u8],
) -> Result<Vec<u8>> {
    encode_blocks(snap, head.len())?.finish(snap, live, head)
}

/// A snapshot with its blocks written and its meta section to come: a
/// fold takes the policy's lock for that section only, not while the
/// entries are sorted and encoded.
pub(crate) struct Blocks {
    /// The header and directory's room, then the blocks.
    out: Vec<u8>,
    blocks_at: usize,
    directory: Vec<[u64; 3]>,
    records: u64,
}

/// The blocks of `snap` (its entries in any order), with room before them
/// for the header, a head of `head_len` bytes and the directory.
pub(crate) fn encode_blocks<E: Borrow<Entry>>(
    snap: &Snapshot<E>,
    head_len: usize,
) -> Result<Blocks> {
    let mut order: Vec<(&EntryKey, &Entry)> =
        snap.entries.iter().map(|(k, e)| (k, e.borrow())).collect();
    order.sort_by_key(|(k, _)| sort_key(k));
    let mut blocks = BlockWriter::new(order.len() as u64, head_len, snap.system);
    for block in order.chunks(BLOCK as usize) {
        blocks.write(block)?;
    }
    blocks.finish()
}

/// Blocks written one after another, entries in the table's order, into
/// one buffer with room before them for the header, the head and the
/// directory: written in place (the header and the directory filled in
/// once the blocks and the meta section are), since a snapshot is tens of
/// MB at a million entries, and each copy of it is as many fresh pages.
pub(crate) struct BlockWriter {
    blocks: Blocks,
    system: Digest,
    /// The records the room was made for.
    expected: u64,
    /// Entries of the block being filled (a stream of them).
    pending: Vec<(EntryKey, Entry)>,
}

impl BlockWriter {
    /// Room for `records` records under `system`, with a head of
    /// `head_len` bytes.
    pub(crate) fn new(records: u64, head_len: usize, system: Digest) -> BlockWriter {
        let blocks = records.div_ceil(BLOCK) as usize;
        let blocks_at = HEADER + head_len + (blocks + 1) * ENTRY;
        let mut out = Vec::with_capacity(blocks_at + records as usize * (SLOT + 64));
        out.resize(blocks_at, 0);
        BlockWriter {
            blocks: Blocks {
                out,
                blocks_at,
                directory: Vec::with_capacity(blocks + 1),
                records: 0,
            },
            system,
            expected: records,
            pending: Vec::new(),
        }
    }

    /// Writes one whole block (`BLOCK` entries, fewer if it is the last),
    /// sorted by [`sort_key`], after those before it.
    fn write(&mut self, block: &[(&EntryKey, &Entry)]) -> Result<()> {
        let Some(first) = block.first() else {
            return Ok(());
        };
        let b = &mut self.blocks;
        let start = (b.out.len() - b.blocks_at) as u64;
        let head = write_block(&mut b.out, block, self.system)?;
        b.directory.push([start, prefix(first.0), head]);
        b.records += block.len() as u64;
        Ok(())
    }

    /// Adds the next entry of a stream in the table's order.
    pub(crate) fn push(&mut self, k: EntryKey, e: Entry) -> Result<()> {
        self.pending.push((k, e));
        if self.pending.len() == BLOCK as usize {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.pending);
        let block: Vec<(&EntryKey, &Entry)> = pending.iter().map(|(k, e)| (k, e)).collect();
        self.write(&block)?;
        self.pending = pending;
        self.pending.clear();
        Ok(())
    }

    /// The blocks, if they hold as many records as room was made for.
    pub(crate) fn finish(mut self) -> Result<Blocks> {
        self.flush()?;
        let b = &mut self.blocks;
        if b.records != self.expected {
            return Err(Error::plugin(
                "index encoding",
                "another number of records than the blocks made room for",
            ));
        }
        let block_bytes = (b.out.len() - b.blocks_at) as u64;
        b.directory.push([block_bytes, u64::MAX, 0]);
        Ok(self.blocks)
    }
}

impl Blocks {
    /// The whole snapshot: these blocks, then the meta section of `snap`
    /// (the snapshot they were encoded from), with the policy's state
    /// `live`'s if it is given, and `head` (as long as the blocks made
    /// room for) after the header.
    pub(crate) fn finish<E>(
        self,
        snap: &Snapshot<E>,
        live: Option<&dyn ReplacementPolicy>,
        head: &[u8],
    ) -> Result<Vec<u8>> {
        let Blocks {
            mut out,
            blocks_at,
            directory,
            records,
        } = self;
        if HEADER + head.len() + directory.len() * ENTRY != blocks_at {
            return Err(Error::plugin(
                "index encoding",
                "a head of another length than the blocks made room for",
            ));
        }
        let block_bytes = (out.len() - blocks_at) as u64;
        let mut meta = Measured::new(Some(&mut out));
        write_meta(snap, live, &mut meta)?;
        let meta_sum = meta.len_and_sum();
        let mut header = header(records, block_bytes, meta_sum, snap.system, head);
        for entry in directory {
            for n in entry {
                header.extend_from_slice(&n.to_le_bytes());
            }
        }
        out[..blocks_at].copy_from_slice(&header);
        Ok(out)
    }
}

/// A snapshot's header, then its index head (see the module's layout);
/// `meta` is the meta section's length and xxh3-64.
fn header(
    records: u64,
    block_bytes: u64,
    meta: (u64, u64),
    system: Digest,
    head: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + head.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    for n in [records, block_bytes, meta.0, meta.1] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    out.extend_from_slice(system.as_bytes());
    out.extend_from_slice(&(head.len() as u64).to_le_bytes());
    let check = xxh3_64(&out);
    out.extend_from_slice(&check.to_le_bytes());
    out.extend_from_slice(head);
    out
}

/// `old`, an encoded snapshot, with `head` as its index head and the rest
/// of `meta` (its entries are not read) as its meta section, the policy's
/// state `live`'s if given (see [`write_meta`]); its directory and blocks
/// kept byte for byte, in the same buffer.
pub(crate) fn replace_meta(
    mut old: Vec<u8>,
    meta: &Snapshot,
    live: Option<&dyn ReplacementPolicy>,
    head: &[u8],
) -> Result<Vec<u8>> {
    let layout = Layout::parse(&old, old.len() as u64)?;
    if meta.system != layout.system {
        return Err(replaced_system());
    }
    // Encoded where the old meta section was, not apart and copied there
    // (the policy's state, most of it, is megabytes).
    let meta_at = layout.meta_at() as usize;
    old.truncate(meta_at);
    write_meta(meta, live, &mut old)?;
    let mut new = old;
    let written = &new[meta_at..];
    let meta_sum = (written.len() as u64, xxh3_64(written));
    let header = header(
        layout.records,
        layout.block_bytes,
        meta_sum,
        meta.system,
        head,
    );
    new.splice(..HEADER + layout.head as usize, header);
    Ok(new)
}

/// The snapshot `old` reads, with `head` as its index head and the rest of
/// `meta` (its entries are not read) as its meta section, the policy's
/// state `live`'s if given, written to `out` from `old`'s directory and
/// blocks a part at a time: memory holds a part (where [`replace_meta`]
/// holds the whole snapshot, tens of MB at a million entries). The meta
/// section is encoded twice, as it is written: once to learn its length
/// and sum, which the header before it holds, then into `out` (a live
/// policy's state, 42 MB at a million entries, is never held encoded).
pub(crate) fn write_with_meta(
    old: &dyn StoredReader,
    meta: &Snapshot,
    live: Option<&dyn ReplacementPolicy>,
    head: &[u8],
    out: &mut dyn Write,
) -> Result<()> {
    let mut first = [0u8; HEADER];
    if old.size() < HEADER as u64 {
        return Err(Error::corrupt("index snapshot", "shorter than its header"));
    }
    old.read_at(0, &mut first)?;
    let layout = Layout::parse(&first, old.size())?;
    if meta.system != layout.system {
        return Err(replaced_system());
    }
    let mut measured = Measured::new(None);
    write_meta(meta, live, &mut measured)?;
    let meta_sum = measured.len_and_sum();
    let header = header(
        layout.records,
        layout.block_bytes,
        meta_sum,
        meta.system,
        head,
    );
    let io = |e| Error::io("cannot write the index snapshot", e);
    out.write_all(&header).map_err(io)?;
    let (mut at, end) = (layout.directory_at(), layout.meta_at());
    let mut part = vec![0u8; COPY_PART.min(end - at) as usize];
    while at < end {
        let len = COPY_PART.min(end - at) as usize;
        old.read_at(at, &mut part[..len])?;
        out.write_all(&part[..len]).map_err(io)?;
        at += len as u64;
    }
    // Through a buffer: the encoding writes a field at a time.
    let mut buffered = std::io::BufWriter::with_capacity(COPY_PART as usize, out);
    let mut written = Measured::new(Some(&mut buffered));
    write_meta(meta, live, &mut written)?;
    let written = written.len_and_sum();
    buffered.flush().map_err(io)?;
    if written != meta_sum {
        // Only a policy whose encoding is not a function of its state:
        // the header would not hold, and the next open would set the
        // snapshot aside. The write fails instead; the old one stays.
        return Err(Error::plugin(
            "index encoding",
            "the policy's state encoded otherwise the second time",
        ));
    }
    Ok(())
}

/// Writes the meta section of `snap` (its entries are not read) to `out`:
/// its head, then the policy's state, `live` encoded as it is written if
/// it is given, else the one `snap` holds.
fn write_meta<E>(
    snap: &Snapshot<E>,
    live: Option<&dyn ReplacementPolicy>,
    out: &mut dyn Write,
) -> Result<()> {
    let encoding = |e| Error::plugin("index encoding", e);
    let policy = match live {
        Some(p) => Some(p.typetag_name()),
        None => snap.policy.as_ref().map(|s| s.name.as_str()),
    };
    let head = MetaHeadOut {
        system: snap.system,
        functions: &snap.functions,
        policy,
        folded: &snap.folded,
    };
    postcard::to_io(&head, &mut *out).map_err(encoding)?;
    match (live, &snap.policy) {
        (Some(p), _) => postcard::to_io(p, out).map(drop).map_err(encoding),
        (None, Some(stored)) => out
            .write_all(&stored.bytes)
            .map_err(|e| Error::io("cannot write the index snapshot", e)),
        (None, None) => Ok(()),
    }
}

/// A writer that keeps the length and the xxh3-64 of what it is given,
/// passing it on to `out` if there is one.
struct Measured<'a> {
    out: Option<&'a mut dyn Write>,
    len: u64,
    sum: Xxh3,
}

impl<'a> Measured<'a> {
    fn new(out: Option<&'a mut dyn Write>) -> Self {
        Measured {
            out,
            len: 0,
            sum: Xxh3::new(),
        }
    }

    fn len_and_sum(&self) -> (u64, u64) {
        (self.len, self.sum.digest())
    }
}

impl Write for Measured<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let n = match &mut self.out {
            Some(out) => out.write(bytes)?,
            None => bytes.len(),
        };
        self.len += n as u64;
        self.sum.update(&bytes[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.out {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}

/// Bytes [`write_with_meta`] copies at a time.
const COPY_PART: u64 = 1 << 20;

/// The error of a meta section of another system state than the records'.
fn replaced_system() -> Error {
    // Its records were written under the other one.
    Error::plugin("index encoding", "a snapshot's system state replaced")
}

/// The meta section of `bytes`, a snapshot whose header `layout` read,
/// checked whole, with the policy's state copied out of it.
fn read_meta(bytes: &[u8], layout: &Layout) -> Result<(super::MetaHead, Option<PolicyState>)> {
    // The header's sum matched the length, so every section is in bounds.
    let meta = &bytes[layout.meta_at() as usize..];
    if xxh3_64(meta) != layout.meta_check {
        return Err(Error::corrupt("index snapshot", "checksum mismatch"));
    }
    split_meta(meta)
}

/// Decodes a whole snapshot. Records that fail their check, or whose
/// block the directory misplaces, are left out and counted (their values
/// are recomputed); a damaged header or meta section makes the whole
/// snapshot corrupt.
pub(crate) fn decode<E: From<Entry>>(bytes: &[u8]) -> Result<(Snapshot<E>, usize)> {
    let layout = Layout::parse(bytes, bytes.len() as u64)?;
    let (meta, policy) = read_meta(bytes, &layout)?;
    let blocks = &bytes[layout.blocks_at() as usize..layout.meta_at() as usize];
    let directory = layout.directory_at() as usize;
    let field = |b: u64, f: usize| word(bytes, directory + b as usize * ENTRY + 8 * f);
    let mut entries = Vec::with_capacity(layout.records as usize);
    let mut damaged = 0;
    for b in 0..layout.blocks() {
        let n = layout.records_in(b) as usize;
        let span = layout.block_span(b, field(b, 0), field(b + 1, 0), field(b, 2));
        let Some(span) = span else {
            damaged += n;
            continue;
        };
        let block = &blocks[span.start as usize..span.end as usize];
        let (head, values) = block.split_at(span.head as usize);
        let Some(head) = Head::parse(head, n) else {
            damaged += n;
            continue;
        };
        for i in 0..n {
            match head.entry(
                i,
                |at, len| {
                    let at = usize::try_from(at).ok()?;
                    values.get(at..at.checked_add(len)?).map(<[u8]>::to_vec)
                },
                false,
            ) {
                Some((k, e, derived)) => {
                    entries.push((k, with_obj_key(layout.system, &k, e, derived).into()))
                }
                None => damaged += 1,
            }
        }
    }
    let snap = Snapshot {
        system: meta.system,
        functions: meta.functions,
        entries,
        policy,
        folded: meta.folded,
    };
    Ok((snap, damaged))
}
