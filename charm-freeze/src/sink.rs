//! The hashing sink: a buffered, keyed blake3 hasher.

use crate::one_chunk;
use crate::Digest;
use std::sync::OnceLock;

/// The blake3 derive-key context of encoding v1. Changing it (or the
/// encoding) changes every digest: a semver-major event.
pub(crate) const CONTEXT: &str = "charm-freeze 2025-06-01 frozen-value v1";

/// blake3 is fastest fed in large pieces; tiny `update` calls are slow.
const BUFFER: usize = 8 * 1024;

/// A new sink's buffer: most keys are short, and a buffer's fresh pages
/// cost a page fault each in a new process; it grows up to [`BUFFER`].
const FIRST_BUFFER: usize = 256;

/// The tag of `()`; an element whose version encoding is exactly this one
/// byte carries no version information.
pub(crate) const UNIT_TAG: u8 = 0x01;

fn template() -> &'static blake3::Hasher {
    static TEMPLATE: OnceLock<blake3::Hasher> = OnceLock::new();
    TEMPLATE.get_or_init(|| blake3::Hasher::new_derive_key(CONTEXT))
}

/// The derive-key mode's key for [`CONTEXT`], for [`one_chunk`].
fn context_key() -> &'static [u32; 8] {
    static KEY: OnceLock<[u32; 8]> = OnceLock::new();
    KEY.get_or_init(|| one_chunk::context_key(CONTEXT))
}

/// How many values a thread hashes with [`one_chunk`] before it leaves
/// short values to the `blake3` crate too: its SIMD code saves about 20 ns
/// a hash, so its CPU probe (60 µs in a virtual machine) pays for itself
/// only after a few thousand hashes, which short-lived processes never
/// reach. Either way gives the same digest.
const PLAIN_HASHES: u32 = 4096;

thread_local! {
    static PLAIN_LEFT: std::cell::Cell<u32> = const { std::cell::Cell::new(PLAIN_HASHES) };
}

/// Whether this hash may be a [`one_chunk`] one (counting it if so).
fn take_plain_hash() -> bool {
    PLAIN_LEFT
        .try_with(|left| {
            let n = left.get();
            left.set(n.saturating_sub(1));
            n > 0
        })
        .unwrap_or(false)
}

/// `hash(&())`, computed once.
pub(crate) fn unit_digest() -> Digest {
    static UNIT: OnceLock<Digest> = OnceLock::new();
    *UNIT.get_or_init(|| Digest::from_bytes(one_chunk::derive_key(context_key(), &[UNIT_TAG])))
}

/// The `blake3` hasher in `slot`, made at its first use.
fn hasher(slot: &mut Option<blake3::Hasher>) -> &mut blake3::Hasher {
    slot.get_or_insert_with(|| template().clone())
}

/// Hashes what is written to it; a value that fits one chunk is hashed by
/// [`one_chunk`], a longer one by the `blake3` crate, made at its first
/// chunk.
pub(crate) struct HashSink {
    hasher: Option<blake3::Hasher>,
    buf: Vec<u8>,
    written: u64,
}

impl HashSink {
    pub(crate) fn new() -> Self {
        HashSink {
            hasher: None,
            buf: Vec::with_capacity(FIRST_BUFFER),
            written: 0,
        }
    }

    #[inline]
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        self.written += bytes.len() as u64;
        if self.buf.len() + bytes.len() > BUFFER {
            self.flush();
            if bytes.len() >= BUFFER {
                hasher(&mut self.hasher).update(bytes);
                return;
            }
        }
        self.buf.extend_from_slice(bytes);
    }

    fn flush(&mut self) {
        if !self.buf.is_empty() {
            hasher(&mut self.hasher).update(&self.buf);
            self.buf.clear();
        }
    }

    /// True when exactly the unit tag was written.
    pub(crate) fn is_unit(&self) -> bool {
        self.written == 1 && self.buf.first() == Some(&UNIT_TAG)
    }

    /// The digest of everything written; the sink is left empty and reusable.
    pub(crate) fn finish_and_reset(&mut self) -> Digest {
        let digest = if self.is_unit() {
            unit_digest()
        } else if self.written <= one_chunk::CHUNK_LEN as u64 && take_plain_hash() {
            // All of it is still in the buffer.
            Digest::from_bytes(one_chunk::derive_key(context_key(), &self.buf))
        } else {
            self.flush();
            hasher(&mut self.hasher).finalize().into()
        };
        if let Some(h) = &mut self.hasher {
            h.reset();
        }
        self.buf.clear();
        self.written = 0;
        digest
    }
}

/// A stack of hash sinks: the bottom one hashes the whole value, the ones
/// above hash set elements and map entries. Sinks stay in place (a sink is
/// about 2 KiB; moving them per element would dominate) and are reused.
pub(crate) struct HashStack {
    sinks: Vec<HashSink>,
    /// The index of the active sink.
    depth: usize,
}

thread_local! {
    /// Finished stacks, reused by the next freezer on this thread: setting up
    /// a keyed hasher and its buffer costs more than hashing a small key.
    static SPARE: std::cell::RefCell<Vec<HashStack>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// How many spare stacks a thread keeps (freezers nest when a `Freeze`
/// impl hashes something itself).
const SPARES: usize = 4;

impl HashStack {
    pub(crate) fn new() -> Self {
        SPARE
            .try_with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.pop()))
            .ok()
            .flatten()
            .unwrap_or_else(|| HashStack {
                sinks: vec![HashSink::new()],
                depth: 0,
            })
    }

    #[inline]
    pub(crate) fn top(&mut self) -> &mut HashSink {
        &mut self.sinks[self.depth]
    }

    pub(crate) fn begin_sub(&mut self) {
        self.depth += 1;
        if self.depth == self.sinks.len() {
            self.sinks.push(HashSink::new());
        }
    }

    /// Finishes the innermost sub-sink (never the bottom one).
    pub(crate) fn end_sub(&mut self) -> Digest {
        if self.depth == 0 {
            return unit_digest(); // unbalanced use is prevented by the writers
        }
        let digest = self.top().finish_and_reset();
        self.depth -= 1;
        digest
    }

    pub(crate) fn finish(mut self) -> Digest {
        // Sub-sinks left open (only after an error) are reset for reuse.
        while self.depth > 0 {
            self.end_sub();
        }
        let digest = self.top().finish_and_reset();
        let _ = SPARE.try_with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                if s.len() < SPARES {
                    s.push(self);
                }
            }
        });
        digest
    }
}

#[cfg(test)]
mod tests {
    use super::PLAIN_HASHES;

    #[test]
    fn short_values_hash_the_same_before_and_after_the_crate_takes_over() {
        std::thread::spawn(|| {
            let values: Vec<(u64, String)> = (0..100u64)
                .map(|k| (k, "x".repeat(k as usize * 9)))
                .collect();
            let plain: Vec<_> = values.iter().map(crate::hash).collect();
            for k in 0..PLAIN_HASHES {
                crate::hash(&k);
            }
            let by_crate: Vec<_> = values.iter().map(crate::hash).collect();
            assert_eq!(plain, by_crate);
        })
        .join()
        .unwrap();
    }
}
