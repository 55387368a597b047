//! The persisted index: a checksummed snapshot (`index/base`) and small
//! delta records (`index/delta-*`) that fine-grain persistence appends.
//!
//! ```text
//! magic [8] | format u32 | body length u64 | xxh3-64(body) u64 | body (postcard)
//! ```

use crate::entry::{FunctionRecord, FunctionStats};
use crate::keys::layout;
use crate::{Entry, EntryKey, EntryMeta, Error, ReplacementPolicy, Result, StoredReader};
use charm_freeze::Digest;
use serde::de::{DeserializeOwned, DeserializeSeed};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use xxhash_rust::xxh3::xxh3_64;

mod hits;

const DELTA_MAGIC: &[u8; 8] = b"CHARMDL1";
const HEAD_MAGIC: &[u8; 8] = b"CHARMHD2";
/// Bumped on any change of the persisted structures (part of the system state).
/// 8: a record's hits name each function once; 9: each hit carries its
/// entry's size and cost (see [`hits`]); 10: a ranking policy's state
/// keeps its keys in chunks (`charm-policies`), so that encoding it holds
/// one chunk, not all of them, beside the output.
pub(crate) const FORMAT: u32 = 10;
const HEADER: usize = 8 + 4 + 8 + 8;

/// A policy's persisted state, decoded only by a process that uses it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct PolicyState {
    pub(crate) name: String,
    /// (De)serialized as bytes, not as a sequence of numbers: the same
    /// postcard bytes, read at once rather than one call per byte (tens
    /// of MB at a million entries).
    #[serde(with = "serde_bytes")]
    pub(crate) bytes: Vec<u8>,
}

/// The whole index as stored (laid out by [`super::table`]): its entries
/// as read, or (`E` an `Arc<Entry>`) shared with the index in memory that
/// a fold writes, where a copy of each was as large as the index.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot<E = Entry> {
    pub(crate) system: Digest,
    pub(crate) functions: Vec<FunctionRecord>,
    pub(crate) entries: Vec<(EntryKey, E)>,
    pub(crate) policy: Option<PolicyState>,
    /// Delta records already folded into this snapshot (they may linger if
    /// their deletion failed; they must not be applied twice).
    pub(crate) folded: Vec<String>,
}

/// What a process reads at open instead of the whole index, written
/// beside each snapshot: its system and function states, which a process
/// compares its own with (a change must cascade, which only a commit
/// does), and its entries and bytes, which tell when delta records take
/// the cache past its budget.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Head {
    /// The key of the snapshot this head describes: [`layout::BASE`] for a
    /// store committed under the lock; a name of its own per commit for a
    /// store with compare-and-swap, whose commit is the head's swap.
    ///
    /// [`layout::BASE`]: crate::keys::layout::BASE
    pub(crate) base: String,
    pub(crate) system: Digest,
    pub(crate) functions: Vec<FunctionRecord>,
    /// The delta records the snapshot folded (not to be read again).
    pub(crate) folded: Vec<String>,
    pub(crate) entries: u64,
    pub(crate) bytes: u64,
}

impl Head {
    /// The head of `snap`, stored under `base`, whose entries count `bytes`
    /// against the budget.
    pub(crate) fn of<E>(snap: &Snapshot<E>, base: String, bytes: u64) -> Head {
        Head {
            base,
            system: snap.system,
            functions: snap.functions.clone(),
            folded: snap.folded.clone(),
            entries: snap.entries.len() as u64,
            bytes,
        }
    }
}

/// An entry's removal: the object it held, and when it was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Removal {
    pub(crate) key: EntryKey,
    pub(crate) obj: Digest,
    pub(crate) stamp: u64,
}

/// Changes since the last write, from one process. (Its fields are
/// stored in this order, the hits last: `hits::TellingDelta` reads them
/// so.)
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Delta {
    pub(crate) system: Digest,
    pub(crate) upserts: Vec<(EntryKey, Entry)>,
    /// Entries removed: each names the object it removed and when (a
    /// newer version of the entry stays).
    pub(crate) removals: Vec<Removal>,
    /// Function records; their stats are increments, not totals.
    pub(crate) functions: Vec<FunctionRecord>,
    /// Entries hit, in order, each with the metadata the hit found, for
    /// the policy (recorded by groups that do not read the index, whose
    /// hits the snapshot's policy would miss).
    #[serde(deserialize_with = "hits::deserialize")]
    pub(crate) accesses: Vec<Hit>,
}

/// A hit: the entry's key, and its metadata as the hit found it.
pub(crate) type Hit = (EntryKey, EntryMeta);

impl Delta {
    /// Adds another record's changes and hits after this one's.
    pub(crate) fn extend(&mut self, other: Delta) {
        self.upserts.extend(other.upserts);
        self.removals.extend(other.removals);
        self.functions.extend(other.functions);
        self.accesses.extend(other.accesses);
    }

    /// Whether it holds hits and usage only: no entry added, replaced or
    /// removed, no function's state changed.
    pub(crate) fn is_hits_only(&self) -> bool {
        self.upserts.is_empty()
            && self.removals.is_empty()
            && self.functions.iter().all(|f| f.stamp == 0)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.upserts.is_empty()
            && self.removals.is_empty()
            && self.accesses.is_empty()
            && self
                .functions
                .iter()
                .all(|f| f.stats == FunctionStats::default() && f.stamp == 0)
    }
}

/// `value` after its header, in one buffer: the body is not copied after
/// the header (a record of many hits is megabytes).
fn encode<T: Serialize>(magic: &[u8; 8], value: &T) -> Result<Vec<u8>> {
    let mut out = vec![0; HEADER];
    extend_with(&mut out, value)?;
    seal(magic, &mut out);
    Ok(out)
}

/// Appends `value`, encoded, to `out`.
fn extend_with<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<()> {
    let encoded = postcard::to_extend(value, std::mem::take(out));
    *out = encoded.map_err(|e| Error::plugin("index encoding", e))?;
    Ok(())
}

/// Fills in the header of the record `out`, whose body follows it.
fn seal(magic: &[u8; 8], out: &mut [u8]) {
    let check = xxh3_64(&out[HEADER..]);
    let body_len = (out.len() - HEADER) as u64;
    out[..8].copy_from_slice(magic);
    out[8..12].copy_from_slice(&FORMAT.to_le_bytes());
    out[12..20].copy_from_slice(&body_len.to_le_bytes());
    out[20..28].copy_from_slice(&check.to_le_bytes());
}

/// A delta record's fields before its hits, as [`Delta`] stores them.
#[derive(Serialize)]
struct DeltaChanges<'d> {
    system: &'d Digest,
    upserts: &'d [(EntryKey, Entry)],
    removals: &'d [Removal],
    functions: &'d [FunctionRecord],
}

/// Starts the record of `d` in `out` (emptied first): its header's room
/// and every field but the hits, which [`write_hits`] appends next (the
/// last field: postcard stores a struct's fields one after another), so
/// that a record's hits are encoded from where they wait, not copied into
/// a list first. [`seal_delta`] then ends it. `d`'s own hits are not
/// written.
pub(crate) fn begin_delta(d: &Delta, out: &mut Vec<u8>) -> Result<()> {
    out.clear();
    out.resize(HEADER, 0);
    let changes = DeltaChanges {
        system: &d.system,
        upserts: &d.upserts,
        removals: &d.removals,
        functions: &d.functions,
    };
    extend_with(out, &changes)
}

/// Ends the delta record [`begin_delta`] started in `out`.
pub(crate) fn seal_delta(out: &mut [u8]) {
    seal(DELTA_MAGIC, out);
}

/// Appends a record's hits to `out`, as [`Delta`] stores them: `count`
/// hits, in order, each naming a function among `names`.
pub(crate) fn write_hits<'h>(
    out: &mut Vec<u8>,
    names: &[Digest],
    count: usize,
    in_order: impl Iterator<Item = (&'h EntryKey, &'h EntryMeta)>,
) -> Result<()> {
    hits::write(out, names, count, in_order)
}

/// The hits [`write_hits`] wrote in `section`.
pub(crate) fn read_hits(section: &[u8]) -> Result<Vec<Hit>> {
    let mut de = postcard::Deserializer::from_bytes(section);
    hits::deserialize(&mut de).map_err(|e| undecodable("a record's hits", e))
}

fn decode<T: DeserializeOwned>(magic: &[u8; 8], what: &str, bytes: &[u8]) -> Result<T> {
    let body = checked_body(magic, what, bytes)?;
    postcard::from_bytes(body).map_err(|e| undecodable(what, e))
}

/// The body of the record `bytes`, if its header is `magic`'s, of this
/// format, and its length and check hold.
fn checked_body<'b>(magic: &[u8; 8], what: &str, bytes: &'b [u8]) -> Result<&'b [u8]> {
    let bad = |why: &str| Error::corrupt(what, why);
    if bytes.len() < HEADER || &bytes[..8] != magic {
        return Err(bad("not a charm index record (foreign or truncated)"));
    }
    let word = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(b)
    };
    let format = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if format != FORMAT {
        return Err(bad(&format!(
            "index format {format}, this charm reads {FORMAT}"
        )));
    }
    let body = &bytes[HEADER..];
    if word(12) != body.len() as u64 {
        return Err(bad("length mismatch (truncated?)"));
    }
    if word(20) != xxh3_64(body) {
        return Err(bad("checksum mismatch"));
    }
    Ok(body)
}

fn undecodable(what: &str, e: postcard::Error) -> Error {
    Error::corrupt(what, format!("undecodable: {e}"))
}

/// The snapshot `s` as stored, with the encoded index head `head` (or
/// nothing) after its header, where opening reads it, whole (a fold
/// encodes it in two parts: [`encode_snapshot_blocks`]).
#[cfg(any(test, feature = "testing"))]
pub(crate) fn encode_snapshot(s: &Snapshot, head: &[u8]) -> Result<Vec<u8>> {
    super::table::encode(s, None, head)
}

/// The blocks of snapshot `s`, with room for a head of `head_len` bytes:
/// [`Blocks::finish`](super::table::Blocks::finish) adds the rest, the
/// policy's state among it (a fold holds the policy's lock for that part
/// only).
pub(crate) fn encode_snapshot_blocks<E: Borrow<Entry>>(
    s: &Snapshot<E>,
    head_len: usize,
) -> Result<super::table::Blocks> {
    super::table::encode_blocks(s, head_len)
}

/// A snapshot, and how many of its records were damaged (left out).
/// Its entries owned (`Entry`), or shared (`Arc<Entry>`) as a fold's state
/// holds them.
pub(crate) fn decode_snapshot<E: From<Entry>>(bytes: &[u8]) -> Result<(Snapshot<E>, usize)> {
    super::table::decode(bytes)
}

/// The snapshot `old` with another head (`head`, encoded) and another
/// system state, functions, policy and folded records (`meta`'s; its
/// entries are not read; the policy's state `live`'s if it is given,
/// encoded as it is written): its entries kept as they are, byte for
/// byte.
pub(crate) fn replace_snapshot_meta(
    old: Vec<u8>,
    meta: &Snapshot,
    live: Option<&dyn ReplacementPolicy>,
    head: &[u8],
) -> Result<Vec<u8>> {
    super::table::replace_meta(old, meta, live, head)
}

/// [`replace_snapshot_meta`] of the snapshot `old` reads, written to `out`
/// a part at a time.
pub(crate) fn write_snapshot_with_meta(
    old: &dyn StoredReader,
    meta: &Snapshot,
    live: Option<&dyn ReplacementPolicy>,
    head: &[u8],
    out: &mut dyn std::io::Write,
) -> Result<()> {
    super::table::write_with_meta(old, meta, live, head, out)
}

/// A delta record whole, as a process writes it: [`begin_delta`], its
/// hits by [`write_hits`] (their functions numbered as they first
/// appear), [`seal_delta`].
#[cfg(any(test, feature = "testing"))]
pub(crate) fn encode_delta(d: &Delta) -> Result<Vec<u8>> {
    let mut names = Vec::new();
    for (k, _) in &d.accesses {
        if !names.contains(&k.name) {
            names.push(k.name);
        }
    }
    let mut out = Vec::new();
    begin_delta(d, &mut out)?;
    let hits = d.accesses.iter().map(|(k, m)| (k, m));
    write_hits(&mut out, &names, d.accesses.len(), hits)?;
    seal_delta(&mut out);
    Ok(out)
}

pub(crate) fn decode_delta(bytes: &[u8]) -> Result<Delta> {
    decode(DELTA_MAGIC, "index delta", bytes)
}

/// [`decode_delta`], handing the record's hits to `tell` as they are read
/// (never a list of them: a rerun's record of 10 000 hits is 800 KB
/// decoded), if `gate`, shown the record's other fields first, says so;
/// the record returned holds no hits. A record whose hits turn out
/// undecodable part way, which only a forged one can be (its check held),
/// has told those before.
pub(crate) fn decode_delta_telling(
    bytes: &[u8],
    gate: impl FnOnce(&Delta) -> bool,
    tell: impl FnMut(Hit),
) -> Result<Delta> {
    const WHAT: &str = "index delta";
    let body = checked_body(DELTA_MAGIC, WHAT, bytes)?;
    let mut de = postcard::Deserializer::from_bytes(body);
    hits::TellingDelta { gate, tell }
        .deserialize(&mut de)
        .map_err(|e| undecodable(WHAT, e))
}

/// Damaged places a log's reader skips before it gives up on the rest (each
/// costs a search and a check: a crafted log must not cost more).
const MAX_LOG_DAMAGE: usize = 16;

/// The records of a log of delta records appended one after another (a
/// record alone is a log of one), each with its check, which tells records
/// apart; and whether damage was skipped (a torn append, or worse).
#[cfg(any(test, feature = "testing"))]
pub(crate) fn decode_delta_log(bytes: &[u8]) -> (Vec<(u64, Delta)>, bool) {
    let mut records = Vec::new();
    let damaged = for_each_delta(bytes, |check, d| records.push((check, d)));
    (records, damaged)
}

/// [`decode_delta_log`], handing each record to `each` as it is decoded
/// (a log of many hits need not be held decoded whole).
pub(crate) fn for_each_delta(bytes: &[u8], mut each: impl FnMut(u64, Delta)) -> bool {
    let mut damage = 0;
    read_records(bytes, 0, false, &mut damage, &mut decode_delta, &mut each);
    damage > 0
}

/// Bytes of a log [`for_each_delta_read`] reads at once (a longer record
/// is read whole). A rerun's record of 10 000 hits is 380 KB; at 4 MiB, the
/// 1.3 MB log a rerun at 10 000 entries folds was read whole, 0.4 MB more
/// at the peak of that rerun, for no time saved.
pub(crate) const LOG_WINDOW: usize = 512 << 10;

/// [`for_each_delta`] over the log `reader` reads, `window` bytes at a
/// time, each record decoded by `decode` ([`decode_delta`], or
/// [`decode_delta_telling`]): memory holds a window (or one record longer
/// than it), however long the log. Hits wait in the hit log for about
/// four reruns' worth before they are folded: at a million entries,
/// hundreds of MB.
pub(crate) fn for_each_delta_read(
    reader: &dyn StoredReader,
    window: usize,
    mut decode: impl FnMut(&[u8]) -> Result<Delta>,
    mut each: impl FnMut(u64, Delta),
) -> Result<bool> {
    let size = reader.size();
    let (mut pos, mut damage, mut scanning, mut want) = (0u64, 0, false, window.max(1));
    let mut buf = Vec::new();
    while pos < size && damage <= MAX_LOG_DAMAGE {
        let len = (size - pos).min(want as u64) as usize;
        buf.resize(len, 0);
        reader.read_at(pos, &mut buf)?;
        let more = size - pos - len as u64;
        let (read, still) = read_records(&buf, more, scanning, &mut damage, &mut decode, &mut each);
        if more == 0 {
            break; // all of it read
        }
        scanning = still;
        // Nothing whole in the window: a record longer than it, read whole
        // by doubling (bounded by the log's length).
        want = if read == 0 {
            want.saturating_mul(2)
        } else {
            window.max(1)
        };
        pos += read as u64;
    }
    Ok(damage > 0)
}

/// Hands each whole record of `bytes`, as `decode` decodes it, to `each`,
/// counting damaged places in `damage` and skipping each to the next
/// record's magic (from the start, if `scanning`). `more`: bytes of the log after these, where a
/// record cut at the end goes on. Returns how many bytes it is done with,
/// and whether it was scanning for a magic there.
fn read_records(
    bytes: &[u8],
    more: u64,
    mut scanning: bool,
    damage: &mut usize,
    decode: &mut impl FnMut(&[u8]) -> Result<Delta>,
    each: &mut impl FnMut(u64, Delta),
) -> (usize, bool) {
    let mut at = 0;
    while at < bytes.len() && *damage <= MAX_LOG_DAMAGE {
        let rest = &bytes[at..];
        if scanning {
            match rest
                .windows(DELTA_MAGIC.len())
                .position(|w| w == DELTA_MAGIC)
            {
                Some(next) => {
                    at += next;
                    scanning = false;
                    continue;
                }
                // A magic cut at the end is searched again with what follows.
                None if more > 0 => {
                    let keep = DELTA_MAGIC.len() - 1;
                    return (at.max(bytes.len().saturating_sub(keep)), true);
                }
                None => break,
            }
        }
        let declared = (rest.len() >= HEADER)
            .then(|| u64::from_le_bytes(rest[12..20].try_into().unwrap_or_default()))
            .and_then(|body| body.checked_add(HEADER as u64));
        let cut = match declared {
            _ if rest.len() < HEADER => more > 0, // a header cut at the end
            Some(len) => len > rest.len() as u64 && len <= rest.len() as u64 + more,
            None => false, // a length past any file's
        };
        if cut {
            return (at, false);
        }
        if let Some(len) = declared.and_then(|l| usize::try_from(l).ok()) {
            if let Ok(d) = rest
                .get(..len)
                .ok_or(())
                .and_then(|r| decode(r).map_err(drop))
            {
                each(record_check(rest), d);
                at += len;
                continue;
            }
        }
        *damage += 1;
        at += 1;
        scanning = true;
    }
    (at.min(bytes.len()), scanning)
}

/// The check of an encoded record (what [`decode_delta_log`] pairs it with).
pub(crate) fn record_check(encoded: &[u8]) -> u64 {
    encoded
        .get(20..28)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

pub(crate) fn encode_head(h: &Head) -> Result<Vec<u8>> {
    encode(HEAD_MAGIC, h)
}

/// Decodes a head, whose snapshot key must be one the engine writes (a
/// forged head must not name an object for a commit to delete).
pub(crate) fn decode_head(bytes: &[u8]) -> Result<Head> {
    let head: Head = decode(HEAD_MAGIC, "index head", bytes)?;
    let base = head.base.as_str();
    let own = base == layout::BASE
        || base
            .strip_prefix(layout::BASE)
            .is_some_and(|rest| rest.starts_with('-') && crate::valid_key(base));
    match own {
        true => Ok(head),
        false => Err(Error::corrupt(
            "index head",
            format!("it names {base:?}, which is not a snapshot's key"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{entry, key};
    use super::*;
    use charm_freeze::hash;

    #[test]
    fn records_round_trip_and_damage_is_corrupt() {
        let d = Delta {
            system: hash(&1u8),
            upserts: vec![(key(1), entry(1, 5))],
            ..Delta::default()
        };
        let bytes = encode_delta(&d).unwrap();
        assert_eq!(decode_delta(&bytes).unwrap().upserts, d.upserts);
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        assert!(matches!(decode_delta(&bad), Err(Error::Corrupt { .. })));
        assert!(decode_delta(&bytes[..bytes.len() - 3]).is_err());
        assert!(
            decode_snapshot::<Entry>(&bytes).is_err(),
            "a delta is not a snapshot"
        );
    }

    fn hits_record(k: u8) -> Vec<u8> {
        let d = Delta {
            system: hash(&1u8),
            accesses: vec![(
                key(k),
                EntryMeta {
                    size: 1,
                    cost_ns: 2,
                },
            )],
            ..Delta::default()
        };
        encode_delta(&d).unwrap()
    }

    fn accessed(log: &[u8]) -> (Vec<EntryKey>, bool) {
        let (records, damaged) = decode_delta_log(log);
        let keys = records
            .into_iter()
            .flat_map(|(_, d)| d.accesses)
            .map(|(k, _)| k)
            .collect();
        (keys, damaged)
    }

    #[test]
    fn a_log_of_records_reads_back_whole_records_and_skips_damage() {
        let records: Vec<Vec<u8>> = (0..3).map(hits_record).collect();
        let log = records.concat();
        let (found, damaged) = decode_delta_log(&log);
        assert!(!damaged);
        let checks: Vec<u64> = found.iter().map(|(c, _)| *c).collect();
        let expected: Vec<u64> = records.iter().map(|r| record_check(r)).collect();
        assert_eq!(checks, expected, "each record with its check");
        assert_eq!(accessed(&records[0]).0, [key(0)], "a record alone");

        // A torn append at the end: the whole records before it stay.
        let torn = &log[..log.len() - 5];
        assert_eq!(accessed(torn), (vec![key(0), key(1)], true));
        // A record cut short in the middle (a full disk), then more.
        let mut cut = records[0].clone();
        cut.extend_from_slice(&records[1][..10]);
        cut.extend_from_slice(&records[2]);
        assert_eq!(accessed(&cut), (vec![key(0), key(2)], true));
        // Garbage, and a flipped bit, between whole records.
        let mut noisy = b"garbage".to_vec();
        noisy.extend_from_slice(&records[0]);
        let mut flipped = records[1].clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        noisy.extend_from_slice(&flipped);
        noisy.extend_from_slice(&records[2]);
        assert_eq!(accessed(&noisy), (vec![key(0), key(2)], true));
    }

    /// A log of pieces: whole records of `n` hits, records cut short,
    /// garbage, records with a flipped byte.
    fn log_of(pieces: &[(u8, u8)]) -> Vec<u8> {
        let mut log = Vec::new();
        for (i, &(kind, n)) in pieces.iter().enumerate() {
            let d = Delta {
                system: hash(&1u8),
                accesses: (0..n)
                    .map(|h| {
                        (
                            key(h),
                            EntryMeta {
                                size: u64::from(h),
                                cost_ns: i as u64,
                            },
                        )
                    })
                    .collect(),
                ..Delta::default()
            };
            let mut record = encode_delta(&d).unwrap();
            match kind % 4 {
                0 => {}
                1 => record.truncate(record.len() / 2),
                2 => record = record[..usize::from(n) % 40].to_vec(),
                _ => {
                    let at = usize::from(n) * 7 % record.len();
                    record[at] ^= 0x5a;
                }
            }
            log.extend_from_slice(&record);
        }
        log
    }

    /// What a read of a log gives: each record's check and hits, and
    /// whether damage was skipped.
    type Read = (Vec<(u64, Vec<(EntryKey, EntryMeta)>)>, bool);

    fn read_whole(log: &[u8]) -> Read {
        let mut got = Vec::new();
        let damaged = for_each_delta(log, |c, d| got.push((c, d.accesses)));
        (got, damaged)
    }

    fn read_by_windows(log: &[u8], window: usize) -> Read {
        let reader = crate::traits::obj_store::WholeValue(log.to_vec());
        let mut got = Vec::new();
        let damaged = for_each_delta_read(&reader, window, decode_delta, |c, d| {
            got.push((c, d.accesses))
        });
        (got, damaged.unwrap())
    }

    proptest::proptest! {
        #[test]
        fn a_log_read_a_window_at_a_time_reads_as_it_does_whole(
            pieces in proptest::collection::vec((0u8..8, 0u8..40), 0..12),
            window in 1usize..700,
        ) {
            let log = log_of(&pieces);
            proptest::prop_assert_eq!(read_by_windows(&log, window), read_whole(&log));
        }
    }

    #[test]
    fn a_crafted_log_costs_a_bounded_search() {
        // Headers that claim the whole rest of the file, over and over:
        // each is checked once, and the reader gives up after a few.
        let mut crafted = Vec::new();
        for _ in 0..10_000 {
            crafted.extend_from_slice(DELTA_MAGIC);
            crafted.extend_from_slice(&FORMAT.to_le_bytes());
            crafted.extend_from_slice(&u64::MAX.to_le_bytes());
            crafted.extend_from_slice(&[0; 8]);
        }
        crafted.extend_from_slice(&hits_record(1));
        let (keys, damaged) = accessed(&crafted);
        assert!(damaged);
        assert!(keys.is_empty(), "past the damage it stops: {keys:?}");
        for window in [64, LOG_WINDOW] {
            assert_eq!(read_by_windows(&crafted, window), (Vec::new(), true));
        }
    }
}
