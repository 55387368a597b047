//! Every decoder of the cache's own files, fed arbitrary and mutated
//! bytes: none may panic, and none may allocate more than a small multiple
//! of its input plus a fixed few MiB (serde preallocates at most 1 MiB for
//! a collection whatever length it claims), so a crafted length field
//! cannot make it reserve gigabytes. Memory is measured by a counting
//! allocator, per thread.
//!
//! `CHARM_FUZZ_CASES=N` runs N cases per property (default 400).

#![allow(unsafe_code, clippy::unwrap_used)]

use charm_core::untrusted;
use charm_policies as _;
use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting this thread's live and peak bytes.
struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn grew(by: usize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add(by);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn shrank(by: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(by)));
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// bookkeeping touches only const-initialised thread locals, which neither
// allocate nor have destructors.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrank(layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grew(new_size);
        shrank(layout.size());
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes this thread had allocated at most while `f` ran, above what it
/// had when it started.
fn peak_during(f: impl FnOnce()) -> usize {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    f();
    PEAK.with(Cell::get).saturating_sub(base)
}

type Decoder = fn(&[u8]) -> bool;

fn decoders() -> [(&'static str, Decoder, Vec<u8>); 5] {
    [
        (
            "snapshot",
            untrusted::snapshot,
            untrusted::sample_snapshot(),
        ),
        ("delta", untrusted::delta, untrusted::sample_delta()),
        // The hit log: records appended one after another.
        (
            "delta log",
            untrusted::delta,
            untrusted::sample_delta().repeat(3),
        ),
        ("object", untrusted::object, untrusted::sample_object()),
        ("policy state", untrusted::policy_state, policy_sample()),
    ]
}

/// A persisted policy state (inside a snapshot it is a file of its own).
fn policy_sample() -> Vec<u8> {
    let mut p = charm_core::new_policy("gdsf").unwrap();
    for i in 0..3u8 {
        let key = charm_core::EntryKey {
            name: charm_freeze::hash(&"f"),
            args: charm_freeze::hash(&i),
        };
        let meta = charm_core::EntryMeta {
            size: 10,
            cost_ns: 5,
        };
        p.add(key, &meta);
    }
    postcard::to_stdvec(&p).unwrap()
}

/// Decodes `bytes` with every decoder and checks the memory bound.
fn check(bytes: &[u8]) {
    for (name, decode, _) in decoders() {
        let peak = peak_during(|| {
            let _ = decode(bytes);
        });
        // Linear in the input, plus serde's fixed cap on what one
        // collection preallocates for a claimed length (1 MiB).
        let bound = (4 << 20) + 16 * bytes.len();
        assert!(
            peak <= bound,
            "{name}: {peak} bytes allocated for {} bytes of input",
            bytes.len()
        );
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    /// A little-endian u64 written over 8 bytes: crafted lengths and counters.
    Word(usize, u64),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let word = prop_oneof![
        Just(u64::MAX),
        Just(u64::MAX / 2),
        Just(1u64 << 32),
        Just(u64::from(u32::MAX)),
        any::<u64>(),
    ];
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
        (any::<usize>(), word).prop_map(|(i, w)| Mutation::Word(i, w)),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        if bytes.is_empty() {
            break;
        }
        let len = bytes.len();
        match m {
            Mutation::Flip(i, b) => bytes[i % len] ^= b,
            Mutation::Set(i, b) => bytes[i % len] = *b,
            Mutation::Truncate(i) => bytes.truncate(i % len),
            Mutation::Insert(i, v) => {
                let i = i % len;
                bytes.splice(i..i, v.iter().copied());
            }
            Mutation::Word(i, w) => {
                let i = i % len;
                for (slot, b) in bytes[i..].iter_mut().zip(w.to_le_bytes()) {
                    *slot = b;
                }
            }
        }
    }
    bytes
}

/// The checksums catch almost every mutation before decoding starts; this
/// re-seals a mutated index record so the decoders behind them are
/// exercised too (an attacker can compute a checksum as well as we can).
fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
    const HEADER: usize = 28;
    if bytes.len() < HEADER || !bytes.starts_with(b"CHARM") {
        return bytes;
    }
    let body_len = (bytes.len() - HEADER) as u64;
    let sum = xxhash_rust::xxh3::xxh3_64(&bytes[HEADER..]);
    bytes[12..20].copy_from_slice(&body_len.to_le_bytes());
    bytes[20..28].copy_from_slice(&sum.to_le_bytes());
    bytes
}

fn cases() -> u32 {
    std::env::var("CHARM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_or_balloon(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes);
    }

    #[test]
    fn mutated_files_never_panic_or_balloon(
        which in 0..5usize,
        mutations in proptest::collection::vec(mutation(), 1..6),
        resealed in any::<bool>(),
    ) {
        let (_, _, sample) = decoders().into_iter().nth(which).unwrap();
        let mut bytes = mutate(sample, &mutations);
        if resealed {
            bytes = reseal(bytes);
        }
        check(&bytes);
    }
}

#[test]
fn the_samples_are_accepted() {
    for (name, decode, sample) in decoders() {
        assert!(decode(&sample), "{name}: the valid sample is accepted");
    }
}

#[test]
fn crafted_counters_and_sizes_are_refused_or_saturate() {
    // Counters at u64::MAX, applied twice: this once panicked with
    // "attempt to add with overflow" while a group was being built.
    let max = charm_core::FunctionStats {
        hits: u64::MAX,
        misses: u64::MAX,
        time_cost_ns: u64::MAX,
        time_saved_ns: u64::MAX,
    };
    assert!(untrusted::delta(&untrusted::delta_with_stats(max)));

    // Every u64 field of the first entry set to u64::MAX: a size that large
    // is refused as crafted, never summed.
    let mut snap = untrusted::sample_snapshot();
    let name = charm_freeze::hash(&"f");
    let table = snap.windows(32).position(|w| w == name.as_bytes()).unwrap();
    for field in 0..4 {
        let at = table + 160 + field * 8;
        snap[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    }
    assert!(
        !untrusted::snapshot(&reseal(snap)),
        "a petabyte entry is refused"
    );
}
