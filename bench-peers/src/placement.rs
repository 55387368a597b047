//! Where a value of a given size is cheaper: in the index (beside its
//! record) or in an object file of its own. `placement` prints, for each
//! size, the time per miss (its share of the exit's write included) and
//! per hit in a fresh process, each way; charm's `INLINE_LIMIT` is chosen
//! from it.

use crate::{fmt, scratch, settle};
use charm::{Memoized, MemoizedGroup};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Values stored, then hit, per size and placement.
const VALUES: u64 = 2000;
const SIZES: [usize; 7] = [256, 512, 1 << 10, 2 << 10, 4 << 10, 8 << 10, 16 << 10];

fn function(dir: &Path, in_objects: bool) -> (std::sync::Arc<MemoizedGroup>, Memoized<Vec<u8>>) {
    let group = MemoizedGroup::builder()
        .obj_store_url(format!("dir:{}", dir.display()))
        .size("100 GiB")
        .build()
        .expect("a charm group");
    let f = Memoized::builder("peers::placement")
        .raw_bytes()
        .use_obj_store(in_objects)
        .group(group.clone())
        .build();
    (group, f)
}

/// The child: `VALUES` hits on distinct keys in a process that just
/// opened the cache; prints nanoseconds per hit.
pub(crate) fn hits(dir: &Path, in_objects: bool, len: usize) {
    let (_group, f) = function(dir, in_objects);
    let start = Instant::now();
    for k in 0..VALUES {
        assert_eq!(f.call(&k, || panic!("missed {k}")).len(), len);
    }
    println!("{}", start.elapsed().as_nanos() / u128::from(VALUES));
}

/// Per miss (exit included) and per hit in a new process.
fn measure(len: usize, in_objects: bool) -> (Duration, Duration) {
    let dir = scratch("placement");
    let start = Instant::now();
    let (group, f) = function(&dir, in_objects);
    for k in 0..VALUES {
        f.call(&k, || vec![5u8; len]);
    }
    drop((f, group));
    let miss = start.elapsed() / VALUES as u32;
    settle();
    let out = Command::new(std::env::current_exe().expect("this program"))
        .arg("placement-hits")
        .arg(&dir)
        .args([in_objects.to_string(), len.to_string()])
        .output()
        .expect("a child");
    assert!(out.status.success(), "the child failed");
    let nanos: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("nanoseconds");
    let _ = std::fs::remove_dir_all(&dir);
    (miss, Duration::from_nanos(nanos))
}

/// Prints the table.
pub(crate) fn compare() {
    println!(
        "| value | miss, in the index | miss, an object | hit, in the index | hit, an object |"
    );
    println!("|---|---|---|---|---|");
    for len in SIZES {
        let (index_miss, index_hit) = measure(len, false);
        let (obj_miss, obj_hit) = measure(len, true);
        println!(
            "| {len} B | {} | {} | {} | {} |",
            fmt(index_miss),
            fmt(obj_miss),
            fmt(index_hit),
            fmt(obj_hit)
        );
    }
}
