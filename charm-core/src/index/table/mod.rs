//! The snapshot `index/base` as a table searched in place: a process finds
//! one entry with one read of a few KiB (after the first lookups, none),
//! however many the index holds, and never loads the rest.
//!
//! ```text
//! header (96 B): magic [8] | format u32 | 0 u32 | records u64 | block bytes u64
//!                | meta bytes u64 | xxh3-64(meta) u64 | system state [32]
//!                | head bytes u64 | xxh3-64(the 88 bytes before) u64
//! head:          the index's head (`format::encode_head`: its own magic and
//!                checksum), which a process reads at open with the header
//! directory:     per block: where it starts in the blocks u64, its first argument key's
//!                first 8 bytes (big-endian) u64, the length of its head u64;
//!                then where the last block ends, u64::MAX, 0
//! blocks:        64 records each (the last fewer), sorted by (argument key,
//!                function name); a block is its head, then the inline values
//!                of its records. The head:
//!   slots        per record, its argument key's first 8 bytes, then where
//!                it ends in the records, u32 (side by side: the search
//!                through the prefixes reads the ends it needs with them)
//!   digests      [32] each: the names, function states and argument
//!                versions its records use, each once
//!   records      the argument key's other 24 bytes | name, function state
//!                and argument version as indices into the digests, u8 each
//!                | size, compute_ns, serialize_ns, stamp as LEB128
//!                varints | the value's tag: 2 × t + (1 if the object key
//!                is left out), where t is 0 if no value is inline, 2 ×
//!                its length + 1 (the value follows) if it takes at most
//!                [`IN_RECORD`] bytes, else 2 × (its length + 1) (its offset
//!                in the block's values follows), varints | obj [32], unless
//!                left out | check u32
//! meta:          postcard: system state, function records, the policy's
//!                name if it has a state, folded deltas; then that state (its
//!                own postcard encoding) to the end of the section
//! ```
//!
//! The policy's state comes last, outside the rest, so that a fold of
//! hits reads it as a stream and writes it as it encodes it: at a million
//! entries it takes 42 MB, which neither side holds whole.
//!
//! A record's check is the low 32 bits of xxh3-64 of its *image* (the
//! entry spelled out whole: key, digests and numbers at fixed places, see
//! [`image`]) followed by its inline value: it covers what the record
//! means, the digests it names by index included, whatever bytes spell it.
//! A block read once and kept remembers which of its records passed, and
//! does not hash them again (a value read apart from its block is checked
//! at every read).
//! A record leaves out its object key when it is the digest of the
//! entry's five subkeys ([`SubKeys::object_key`](crate::SubKeys::object_key)),
//! as it is for every entry a call stores: the key is derived from the
//! record's digests and the table's system state when asked for, and a
//! lookup for a call can skip even that (the call holds those subkeys).
//! A tiny entry takes about 60 bytes besides its value (the fixed-width
//! records before took 208, those with the object key 92), so a lookup's
//! read of a block, and a cache of blocks, holds three times the entries.
//!
//! Argument keys are digests, spread evenly over their range, so where a
//! key sits in the sorted table is well estimated from its value
//! (interpolation search): a lookup reads the block around the estimate,
//! its records and their small values in one read, and almost always
//! finds the key's place there. Every record carries its own check, so a
//! damaged record is one lost entry; nothing in the file decides how much
//! is read beyond the file's own length and a block head's bound
//! ([`MAX_HEAD`]).

mod kept;
mod lookup;
#[cfg(test)]
mod tests;
mod whole;

#[cfg(feature = "testing")]
pub(crate) use lookup::StoredRange;
pub(crate) use lookup::{PolicyStream, Table};
#[cfg(any(test, feature = "testing"))]
pub(crate) use whole::encode;
pub(crate) use whole::{decode, encode_blocks, replace_meta, write_with_meta, BlockWriter, Blocks};

use super::format::{PolicyState, FORMAT};
use crate::entry::FunctionRecord;
use crate::{Entry, EntryKey, Error, Result};
use charm_freeze::Digest;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

const MAGIC: &[u8; 8] = b"CHARMIX7";
/// What every layout's magic starts with (an older one is "another
/// version", not "foreign").
const MAGIC_FAMILY: &[u8] = b"CHARMIX";

/// What a snapshot another version of charm wrote is, in its error: not
/// damage, and said so to the user.
pub(crate) const OTHER_VERSION: &str = "index snapshot of another charm version";
const HEADER: usize = 96;
/// Bytes a block's head spends per record besides the record: its key
/// prefix and where it ends.
const SLOT: usize = 8 + 4;
/// The fewest bytes a record takes: the argument key's other 24 bytes,
/// three indices, four one-byte numbers, the tag, no value, no object
/// key, check.
const MIN_RECORD: usize = 24 + 3 + 4 + 1 + 4;
/// The most: every varint ten bytes, and a value in the record.
const MAX_RECORD: usize = 24 + 3 + 32 + 6 * 10 + IN_RECORD + 4;
/// The longest inline value kept in its record, where a lookup reads it
/// with the record (a cache line it would otherwise touch in the values).
const IN_RECORD: usize = 32;
/// Bytes of a record's image (see [`image`]).
const IMAGE: usize = 64 + 3 * 32 + 4 * 8 + 4 + 1;
const NO_INLINE: u32 = u32::MAX;
/// Sizes above this (1 PiB) are refused as crafted.
const MAX_ENTRY_SIZE: u64 = 1 << 50;
/// Records per block (about 6 KiB of heads with tiny values).
const BLOCK: u64 = 64;
// A record names up to three digests of its block by a one-byte index.
const _: () = assert!(3 * BLOCK <= 256);
/// The longest head a block can have: its slots, three digests per
/// record, and its records at their longest. A longer one is crafted,
/// and is not read.
const MAX_HEAD: u64 = BLOCK * (SLOT + 3 * 32 + MAX_RECORD) as u64;
/// The longest block a lookup reads whole (its records and their small
/// values); a longer one holds large values kept in the index, which are
/// read one by one.
const BLOCK_READ: u64 = 64 << 10;
/// Directory entries read at once (12 KiB, and the next block's entry).
const DIRECTORY_CHUNK: u64 = 512;
/// Bytes of one directory entry.
const ENTRY: usize = 24;
/// Bytes opening reads at once: the header, the head, and, in a table of
/// up to some 20 000 entries, the whole directory.
const FIRST_READ: u64 = 8 << 10;
/// The longest head section read (a longer one is crafted).
const MAX_HEAD_SECTION: u64 = 64 << 20;
/// Bytes of blocks a reader keeps (records and the small values read with
/// them), filled only by lookups, so repeated lookups read nothing; past
/// it, blocks go to make room for each one read.
const CACHED_BYTES: usize = 64 << 20;
/// Interpolation steps before a lookup falls back to bisection (a table
/// whose keys are not spread evenly: a crafted one).
const INTERPOLATIONS: usize = 6;

/// What the snapshot holds besides its entries and its policy's state:
/// the meta section up to that state.
#[derive(Deserialize)]
struct MetaHead {
    system: Digest,
    functions: Vec<FunctionRecord>,
    /// The policy's name, if the section ends with its state.
    policy: Option<String>,
    folded: Vec<String>,
}

/// [`MetaHead`] as it is written, borrowed from the snapshot (the same
/// bytes: postcard writes a slice as a `Vec`).
#[derive(Serialize)]
struct MetaHeadOut<'a> {
    system: Digest,
    functions: &'a [FunctionRecord],
    policy: Option<&'a str>,
    folded: &'a [String],
}

/// The meta section `meta` as its head and the policy's state (empty
/// without a policy), read at once (see [`lookup::Table::read_meta`] for
/// the stream).
fn split_meta(meta: &[u8]) -> Result<(MetaHead, Option<PolicyState>)> {
    let (mut head, state) = postcard::take_from_bytes::<MetaHead>(meta)
        .map_err(|e| Error::corrupt("index snapshot", format!("undecodable: {e}")))?;
    let policy = head
        .take_policy(state.len() as u64)?
        .map(|name| PolicyState {
            name,
            bytes: state.to_vec(),
        });
    Ok((head, policy))
}

impl MetaHead {
    /// The policy's name, taken, if the `state_len` bytes after the head
    /// are its state; an error if there are such bytes and no policy.
    fn take_policy(&mut self, state_len: u64) -> Result<Option<String>> {
        match self.policy.take() {
            None if state_len > 0 => Err(Error::corrupt(
                "index snapshot",
                "bytes after its meta section",
            )),
            name => Ok(name),
        }
    }
}

/// The sizes a valid header declares.
#[derive(Debug, Clone, Copy)]
struct Layout {
    records: u64,
    block_bytes: u64,
    meta: u64,
    meta_check: u64,
    system: Digest,
    head: u64,
}

impl Layout {
    fn blocks(&self) -> u64 {
        self.records.div_ceil(BLOCK)
    }

    /// Where the directory starts (after the header and the head).
    fn directory_at(&self) -> u64 {
        HEADER as u64 + self.head
    }

    /// Where the blocks start (after the directory).
    fn blocks_at(&self) -> u64 {
        self.directory_at() + (self.blocks() + 1) * ENTRY as u64
    }

    fn meta_at(&self) -> u64 {
        self.blocks_at() + self.block_bytes
    }

    /// The records in block `b`.
    fn records_in(&self, b: u64) -> u64 {
        BLOCK.min(self.records - b * BLOCK)
    }

    /// Block `b`'s place in the blocks, from the directory's `start`,
    /// `end` and `head` length, if they are sane: in order, within the
    /// blocks, a head within the block with room for its records and no
    /// longer than any real one.
    fn block_span(&self, b: u64, start: u64, end: u64, head: u64) -> Option<Span> {
        let least = self.records_in(b) * (SLOT + MIN_RECORD) as u64;
        let sane = start <= end
            && end <= self.block_bytes
            && (least..=MAX_HEAD.min(end - start)).contains(&head);
        sane.then_some(Span { start, end, head })
    }

    /// Reads and checks a header against the file's length.
    fn parse(header: &[u8], file_len: u64) -> Result<Layout> {
        let bad = |why: &str| Error::corrupt("index snapshot", why);
        if header.len() < HEADER || !header.starts_with(MAGIC_FAMILY) {
            return Err(bad("not a charm index snapshot (foreign or truncated)"));
        }
        let other = |why: String| Error::corrupt(OTHER_VERSION, why);
        if &header[..8] != MAGIC {
            return Err(other(format!(
                "{}, this charm reads {}",
                String::from_utf8_lossy(&header[..8]),
                String::from_utf8_lossy(MAGIC)
            )));
        }
        let format = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
        if format != FORMAT {
            return Err(other(format!(
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
            head: word(header, 80),
        };
        if layout.head > MAX_HEAD_SECTION {
            return Err(bad("a head section longer than any real one"));
        }
        let total = layout
            .records
            .div_ceil(BLOCK)
            .checked_add(1)
            .and_then(|d| d.checked_mul(ENTRY as u64))
            .and_then(|t| t.checked_add(HEADER as u64))
            .and_then(|t| t.checked_add(layout.head))
            .and_then(|t| t.checked_add(layout.block_bytes))
            .and_then(|t| t.checked_add(layout.meta));
        if total != Some(file_len) {
            return Err(bad("its sections do not add up to its length (truncated?)"));
        }
        if layout
            .records
            .checked_mul((SLOT + MIN_RECORD) as u64)
            .is_none_or(|r| r > layout.block_bytes)
        {
            return Err(bad("fewer bytes of blocks than its records take"));
        }
        Ok(layout)
    }
}

/// Where a block is in the blocks, and how long its head is.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u64,
    end: u64,
    head: u64,
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
    key_prefix(k.args.as_bytes())
}

/// The first 8 bytes of `key` as one integer, which orders keys as those
/// bytes do.
fn key_prefix(key: &[u8]) -> u64 {
    u64::from_be_bytes(key[..8].try_into().unwrap_or_default())
}

/// The bytes a record is sorted and searched by: argument key, then name.
pub(crate) fn sort_key(k: &EntryKey) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(k.args.as_bytes());
    out[32..].copy_from_slice(k.name.as_bytes());
    out
}

/// An entry spelled out whole at fixed places, which its record's check
/// covers: key [64] | obj (zeros when left out), function state, argument
/// version [32 each] | size, compute_ns, serialize_ns, stamp u64 | inline
/// length u32 (`u32::MAX`: none) | 1 if the object key is left out, else 0.
fn image(k: &EntryKey, e: &Entry, inline_len: u32, derived: bool) -> [u8; IMAGE] {
    let mut out = [0u8; IMAGE];
    out[..64].copy_from_slice(&sort_key(k));
    let obj = if derived {
        &Digest::default()
    } else {
        &e.obj_key
    };
    for (i, d) in [obj, &e.func_state, &e.args_ver].iter().enumerate() {
        out[64 + 32 * i..96 + 32 * i].copy_from_slice(d.as_bytes());
    }
    for (i, n) in [e.size, e.compute_ns, e.serialize_ns, e.stamp]
        .iter()
        .enumerate()
    {
        out[160 + 8 * i..168 + 8 * i].copy_from_slice(&n.to_le_bytes());
    }
    out[192..196].copy_from_slice(&inline_len.to_le_bytes());
    out[196] = u8::from(derived);
    out
}

/// `e`, found under `key` in a table of `system`, with its object key
/// derived if its record left it out (`derived`).
fn with_obj_key(system: Digest, key: &EntryKey, mut e: Entry, derived: bool) -> Entry {
    if derived {
        e.obj_key = derived_obj_key(system, key, &e);
    }
    e
}

/// The object key an entry of `system` under `key` has when its record
/// leaves it out: the digest of its five subkeys.
pub(crate) fn derived_obj_key(system: Digest, key: &EntryKey, e: &Entry) -> Digest {
    crate::SubKeys {
        system,
        name: key.name,
        func_state: e.func_state,
        args_key: key.args,
        args_ver: e.args_ver,
    }
    .object_key()
}

/// The check of a record: xxh3 of its image and its inline value, one
/// after the other (hashed at once from a copy on the stack when they are
/// short, as they are on every tiny hit: the streaming hasher costs more
/// to set up than the copy).
fn record_check(image: &[u8; IMAGE], inline: &[u8]) -> u32 {
    let mut joined = [0u8; 512];
    let len = IMAGE + inline.len();
    if len <= joined.len() {
        joined[..IMAGE].copy_from_slice(image);
        joined[IMAGE..len].copy_from_slice(inline);
        return xxh3_64(&joined[..len]) as u32;
    }
    let mut h = Xxh3::new();
    h.update(image);
    h.update(inline);
    h.digest() as u32
}

/// An inline value's length as its image spells it.
fn inline_len(inline: Option<&[u8]>) -> Option<u32> {
    match inline {
        None => Some(NO_INLINE),
        Some(v) => u32::try_from(v.len()).ok().filter(|l| *l != NO_INLINE),
    }
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push(n as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// The varint at the start of `b`, which moves past it (`None` when it
/// runs off the end or past ten bytes).
fn take_varint(b: &mut &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = b.split_first()?;
        *b = rest;
        n |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(n);
        }
    }
    None
}

/// Appends one block (its entries sorted by [`sort_key`], of the table's
/// `system` state): its head, then their inline values. Returns the
/// head's length.
fn write_block(out: &mut Vec<u8>, block: &[(&EntryKey, &Entry)], system: Digest) -> Result<u64> {
    let mut digests: Vec<Digest> = Vec::new();
    let mut index = |d: Digest| -> u8 {
        let i = digests.iter().position(|x| *x == d).unwrap_or_else(|| {
            digests.push(d);
            digests.len() - 1
        });
        // At most three digests per record: `3 * BLOCK` fit a byte.
        i as u8
    };
    let (mut records, mut values, mut ends) = (Vec::new(), Vec::new(), Vec::new());
    for (k, e) in block {
        let len = inline_len(e.inline.as_deref())
            .ok_or_else(|| Error::plugin("index encoding", "an inline value over 4 GiB"))?;
        records.extend_from_slice(&k.args.as_bytes()[8..]);
        records.extend([index(k.name), index(e.func_state), index(e.args_ver)]);
        for n in [e.size, e.compute_ns, e.serialize_ns, e.stamp] {
            put_varint(&mut records, n);
        }
        let derived = e.obj_key == derived_obj_key(system, k, e);
        let tag = |t: u64| 2 * t + u64::from(derived);
        let inline = e.inline.as_deref().unwrap_or_default();
        match &e.inline {
            None => put_varint(&mut records, tag(0)),
            Some(v) if v.len() <= IN_RECORD => {
                put_varint(&mut records, tag(2 * v.len() as u64 + 1));
                records.extend_from_slice(v);
            }
            Some(v) => {
                put_varint(&mut records, tag(2 * (v.len() as u64 + 1)));
                put_varint(&mut records, values.len() as u64);
                values.extend_from_slice(v);
            }
        }
        if !derived {
            records.extend_from_slice(e.obj_key.as_bytes());
        }
        let check = record_check(&image(k, e, len, derived), inline);
        records.extend_from_slice(&check.to_le_bytes());
        ends.push(records.len() as u32);
    }
    let start = out.len();
    for ((k, _), end) in block.iter().zip(ends) {
        out.extend_from_slice(&k.args.as_bytes()[..8]);
        out.extend_from_slice(&end.to_le_bytes());
    }
    for d in &digests {
        out.extend_from_slice(d.as_bytes());
    }
    out.extend_from_slice(&records);
    let head = (out.len() - start) as u64;
    out.extend_from_slice(&values);
    Ok(head)
}

/// A block's head, its sections told apart (see the module's layout).
#[derive(Debug, Clone, Copy)]
struct Head<'a> {
    /// Per record, its key's prefix and its end ([`SLOT`] bytes).
    slots: &'a [u8],
    digests: &'a [u8],
    records: &'a [u8],
}

impl<'a> Head<'a> {
    /// The head of a block of `n` records, if its sections add up.
    fn parse(head: &'a [u8], n: usize) -> Option<Head<'a>> {
        let slots = head.get(..SLOT * n)?;
        let records_len = match n {
            0 => 0,
            _ => u32::from_le_bytes(slots[SLOT * n - 4..].try_into().ok()?) as usize,
        };
        let digests_len = head.len().checked_sub(SLOT * n + records_len)?;
        if digests_len % 32 != 0 {
            return None;
        }
        Head::split(head, n, digests_len)
    }

    /// The head of `n` records whose digests take `digests_len` bytes, as
    /// [`parse`](Self::parse) found: its sections, without reading a byte
    /// (a lookup in a block read before touches only what it compares).
    fn split(head: &'a [u8], n: usize, digests_len: usize) -> Option<Head<'a>> {
        let (slots, rest) = head.split_at_checked(SLOT * n)?;
        let (digests, records) = rest.split_at_checked(digests_len)?;
        Some(Head {
            slots,
            digests,
            records,
        })
    }

    /// The bytes of its digests.
    fn digests_len(&self) -> usize {
        self.digests.len()
    }

    /// How many records it holds.
    fn len(&self) -> usize {
        self.slots.len() / SLOT
    }

    /// Record `i`'s argument key's first 8 bytes, as a number.
    fn prefix(&self, i: usize) -> u64 {
        key_prefix(&self.slots[SLOT * i..])
    }

    fn end(&self, i: usize) -> usize {
        let at = SLOT * i + 8;
        u32::from_le_bytes(self.slots[at..at + 4].try_into().unwrap_or_default()) as usize
    }

    /// Record `i`'s bytes (`None` when the ends are damaged).
    fn record(&self, i: usize) -> Option<&'a [u8]> {
        let start = if i == 0 { 0 } else { self.end(i - 1) };
        self.records.get(start..self.end(i))
    }

    fn digest(&self, index: u8) -> Option<&'a [u8]> {
        let at = 32 * usize::from(index);
        self.digests.get(at..at + 32)
    }

    /// Asks the processor to fetch where record `i` likely is (records
    /// vary little in length) and the digests, while the search reads the
    /// prefixes: in a block not touched for a while each is a cache miss,
    /// and the record's, after the prefixes', was 7 % of a tiny hit's
    /// time at 100 000 entries.
    fn prefetch_record(&self, i: usize) {
        let n = self.len().max(1);
        let at = self.records.len() / n * i.min(n - 1);
        prefetch(self.records, at);
        prefetch(self.records, at + 64);
        prefetch(self.digests, 0);
    }

    /// What a search compares of record `i` past its prefix: the argument
    /// key's other 24 bytes, and the name.
    fn key_rest(&self, i: usize) -> Option<(&'a [u8], &'a [u8])> {
        let r = self.record(i)?;
        Some((r.get(..24)?, self.digest(*r.get(24)?)?))
    }

    /// Record `i` and its inline value (fetched by `inline(offset, len)`),
    /// if its check holds (or `checked`: it held for these very bytes
    /// before) and its fields are sane; with whether it left its object
    /// key out (the entry's is then zeros: see [`derived_obj_key`]).
    fn entry(
        &self,
        i: usize,
        inline: impl FnOnce(u64, usize) -> Option<Vec<u8>>,
        checked: bool,
    ) -> Option<(EntryKey, Entry, bool)> {
        let r = self.record(i)?;
        let (rest, r) = r.split_at_checked(24)?;
        let ([name, state, version], mut r) = r.split_first_chunk::<3>()?;
        let mut numbers = [0u64; 4];
        for n in &mut numbers {
            *n = take_varint(&mut r)?;
        }
        let tag = take_varint(&mut r)?;
        let derived = tag % 2 == 1;
        let inline = match tag / 2 {
            0 => None,
            tag if tag % 2 == 1 => {
                let (value, rest) = r.split_at_checked(usize::try_from(tag / 2).ok()?)?;
                r = rest;
                Some(value.to_vec())
            }
            tag => {
                let len = usize::try_from(tag / 2 - 1).ok()?;
                let at = take_varint(&mut r)?;
                Some(inline(at, len)?)
            }
        };
        let obj = match derived {
            true => Digest::default(),
            false => {
                let (obj, rest) = r.split_first_chunk::<32>()?;
                r = rest;
                Digest::from_bytes(*obj)
            }
        };
        let check: [u8; 4] = r.try_into().ok()?;
        let mut args = [0u8; 32];
        args[..8].copy_from_slice(&self.slots[SLOT * i..SLOT * i + 8]);
        args[8..].copy_from_slice(rest);
        let named = |index: u8| -> Option<Digest> {
            Some(Digest::from_bytes(self.digest(index)?.try_into().ok()?))
        };
        let key = EntryKey {
            args: Digest::from_bytes(args),
            name: named(*name)?,
        };
        let [size, compute_ns, serialize_ns, stamp] = numbers;
        let mut entry = Entry {
            obj_key: obj,
            func_state: named(*state)?,
            args_ver: named(*version)?,
            size,
            compute_ns,
            serialize_ns,
            stamp,
            inline: None,
        };
        let len = inline_len(inline.as_deref())?;
        let value = inline.as_deref().unwrap_or_default();
        let image = image(&key, &entry, len, derived);
        if !checked && u32::from_le_bytes(check) != record_check(&image, value) {
            return None;
        }
        entry.inline = inline;
        (entry.size <= MAX_ENTRY_SIZE).then_some((key, entry, derived))
    }
}

/// Asks the processor to bring the cache line of `bytes[at]` (if `at` is
/// within them) into its caches; a hint, which changes no result.
#[allow(unsafe_code)]
fn prefetch(bytes: &[u8], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(byte) = bytes.get(at) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch reads nothing and never faults; SSE, which it
        // needs, is part of every x86_64 processor.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(byte).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (bytes, at);
}
