//! The snapshot written and read whole (by a fold).

use super::{
    parse_record, prefix, sort_key, word, write_record, Layout, Meta, BLOCK, ENTRY, HEADER, MAGIC,
    RECORD,
};
use crate::index::format::{Snapshot, FORMAT};
use crate::{Entry, EntryKey, Error, Result};
use xxhash_rust::xxh3::xxh3_64;

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
