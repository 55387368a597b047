//! BLAKE3 of a short input (one chunk, at most 1024 bytes) in plain Rust.
//!
//! The `blake3` crate picks its SIMD code by probing the CPU on its first
//! use in a process. That probe is a handful of `cpuid` instructions, and
//! in a virtual machine each one traps to the hypervisor: 60 µs on the
//! development machine, a quarter of what a process that opens a cache,
//! hits once and exits costs charm. Keys are almost always short, and one
//! chunk is a handful of compressions, which plain code does about as fast,
//! so a short input never reaches the crate and the probe happens only in a
//! process that hashes something long.
//!
//! Written from the BLAKE3 specification; the tests compare every length
//! up to a chunk, in both modes charm uses, with the `blake3` crate.

/// The input length this module hashes: one chunk.
pub(crate) const CHUNK_LEN: usize = 1024;

const BLOCK_LEN: usize = 64;

const IV: [u32; 8] = [
    0x6A09_E667,
    0xBB67_AE85,
    0x3C6E_F372,
    0xA54F_F53A,
    0x510E_527F,
    0x9B05_688C,
    0x1F83_D9AB,
    0x5BE0_CD19,
];

const CHUNK_START: u32 = 1;
const CHUNK_END: u32 = 2;
const ROOT: u32 = 8;
const DERIVE_KEY_CONTEXT: u32 = 32;
const DERIVE_KEY_MATERIAL: u32 = 64;

/// The message word each round reads in each position: the identity, then
/// the specification's permutation applied once more per round.
const SCHEDULE: [[usize; 16]; 7] = {
    const PERMUTATION: [usize; 16] = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
    let mut schedule = [[0; 16]; 7];
    let mut i = 0;
    while i < 16 {
        schedule[0][i] = i;
        i += 1;
    }
    let mut round = 1;
    while round < 7 {
        let mut i = 0;
        while i < 16 {
            schedule[round][i] = schedule[round - 1][PERMUTATION[i]];
            i += 1;
        }
        round += 1;
    }
    schedule
};

#[inline(always)]
fn g(s: &mut [u32; 16], [a, b, c, d]: [usize; 4], x: u32, y: u32) {
    s[a] = s[a].wrapping_add(s[b]).wrapping_add(x);
    s[d] = (s[d] ^ s[a]).rotate_right(16);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_right(12);
    s[a] = s[a].wrapping_add(s[b]).wrapping_add(y);
    s[d] = (s[d] ^ s[a]).rotate_right(8);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_right(7);
}

/// The compression function, returning the new chaining value (the first
/// eight words of its output, all a one-chunk hash of 32 bytes needs).
#[inline(always)]
fn compress(cv: &[u32; 8], block: &[u8; BLOCK_LEN], len: usize, flags: u32) -> [u32; 8] {
    let m: [u32; 16] = words(block);
    let mut s = [
        cv[0], cv[1], cv[2], cv[3], cv[4], cv[5], cv[6], cv[7], IV[0], IV[1], IV[2], IV[3],
        0, // the chunk counter, low word: one chunk is chunk 0
        0, // and its high word
        len as u32, flags,
    ];
    // Seven rounds, spelled out so that every message index is a constant.
    round(&mut s, &m, &SCHEDULE[0]);
    round(&mut s, &m, &SCHEDULE[1]);
    round(&mut s, &m, &SCHEDULE[2]);
    round(&mut s, &m, &SCHEDULE[3]);
    round(&mut s, &m, &SCHEDULE[4]);
    round(&mut s, &m, &SCHEDULE[5]);
    round(&mut s, &m, &SCHEDULE[6]);
    std::array::from_fn(|i| s[i] ^ s[i + 8])
}

#[inline(always)]
fn round(s: &mut [u32; 16], m: &[u32; 16], w: &[usize; 16]) {
    g(s, [0, 4, 8, 12], m[w[0]], m[w[1]]);
    g(s, [1, 5, 9, 13], m[w[2]], m[w[3]]);
    g(s, [2, 6, 10, 14], m[w[4]], m[w[5]]);
    g(s, [3, 7, 11, 15], m[w[6]], m[w[7]]);
    g(s, [0, 5, 10, 15], m[w[8]], m[w[9]]);
    g(s, [1, 6, 11, 12], m[w[10]], m[w[11]]);
    g(s, [2, 7, 8, 13], m[w[12]], m[w[13]]);
    g(s, [3, 4, 9, 14], m[w[14]], m[w[15]]);
}

/// BLAKE3 of `input` (at most [`CHUNK_LEN`] bytes) under `key` and the
/// mode's `flags`, as 32 bytes.
fn hash_one_chunk(key: &[u32; 8], input: &[u8], mode: u32) -> [u8; 32] {
    debug_assert!(input.len() <= CHUNK_LEN);
    let mut cv = *key;
    // An empty input is one empty block; otherwise every block is full but
    // maybe the last.
    let blocks = input.len().div_ceil(BLOCK_LEN).max(1);
    for (i, start) in (0..blocks).map(|i| (i, i * BLOCK_LEN)) {
        let piece = &input[start..input.len().min(start + BLOCK_LEN)];
        let mut block = [0u8; BLOCK_LEN];
        block[..piece.len()].copy_from_slice(piece);
        let mut flags = mode;
        if i == 0 {
            flags |= CHUNK_START;
        }
        if i + 1 == blocks {
            flags |= CHUNK_END | ROOT;
        }
        cv = compress(&cv, &block, piece.len(), flags);
    }
    let mut out = [0u8; 32];
    for (bytes, word) in out.chunks_exact_mut(4).zip(cv) {
        bytes.copy_from_slice(&word.to_le_bytes());
    }
    out
}

/// The key BLAKE3's `derive_key` mode derives from `context` (at most
/// [`CHUNK_LEN`] bytes).
pub(crate) fn context_key(context: &str) -> [u32; 8] {
    words(&hash_one_chunk(&IV, context.as_bytes(), DERIVE_KEY_CONTEXT))
}

/// The first `N` little-endian words of `bytes` (at least `4 * N` long).
#[inline(always)]
fn words<const N: usize>(bytes: &[u8]) -> [u32; N] {
    std::array::from_fn(|i| {
        u32::from_le_bytes([
            bytes[4 * i],
            bytes[4 * i + 1],
            bytes[4 * i + 2],
            bytes[4 * i + 3],
        ])
    })
}

/// `blake3::derive_key` of `material` (at most [`CHUNK_LEN`] bytes) under
/// the key [`context_key`] derived.
pub(crate) fn derive_key(key: &[u32; 8], material: &[u8]) -> [u8; 32] {
    hash_one_chunk(key, material, DERIVE_KEY_MATERIAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes that differ at every position and between lengths.
    fn input(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + len * 7 + 3) as u8).collect()
    }

    #[test]
    fn equals_the_blake3_crate_at_every_length_of_one_chunk() {
        for context in [
            "",
            "charm-freeze 2025-06-01 frozen-value v1",
            &"c".repeat(1024),
        ] {
            let key = context_key(context);
            for len in 0..=CHUNK_LEN {
                let material = input(len);
                assert_eq!(
                    derive_key(&key, &material),
                    blake3::derive_key(context, &material),
                    "context of {} bytes, material of {len}",
                    context.len()
                );
            }
        }
    }
}
