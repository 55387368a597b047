//! Values that must hash apart (no aliasing) and values that must hash
//! alike (the same value in another form).

use charm_freeze::{hash, Digest, Freeze, Unordered};
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, LinkedList, VecDeque};
use std::ffi::OsString;
use std::hash::BuildHasherDefault;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

#[derive(Freeze)]
struct Xy {
    x: u32,
    y: u32,
}

#[derive(Freeze)]
#[freeze(name = "Xy")]
struct YxReordered {
    y: u32,
    x: u32,
}

#[derive(Freeze)]
#[freeze(name = "Xy")]
struct Renamed {
    #[freeze(rename = "y")]
    first: u32,
    #[freeze(rename = "x")]
    second: u32,
}

#[derive(Freeze)]
struct WithSkip {
    kept: u32,
    #[freeze(skip)]
    #[allow(dead_code)]
    scratch: Vec<u8>,
}

#[derive(Freeze)]
struct TupleXy(u32, u32);

#[derive(Freeze)]
struct Unit;

#[derive(Freeze)]
#[freeze(version = 2)]
struct Versioned {
    x: u32,
}

#[derive(Freeze)]
#[freeze(name = "Versioned")]
struct Unversioned {
    x: u32,
}

#[derive(Freeze)]
#[freeze(transparent)]
struct Meters(f64);

#[derive(Freeze)]
enum E {
    A,
    B,
    Tuple(u8),
    Named { v: u8 },
}

#[derive(Freeze)]
#[freeze(name = "E")]
#[allow(dead_code)]
enum EReordered {
    Named { v: u8 },
    Tuple(u8),
    B,
    A,
}

fn apart<A: Freeze + ?Sized, B: Freeze + ?Sized>(what: &str, a: &A, b: &B) {
    assert_ne!(hash(a), hash(b), "{what}: must hash apart");
}

fn alike<A: Freeze + ?Sized, B: Freeze + ?Sized>(what: &str, a: &A, b: &B) {
    assert_eq!(hash(a), hash(b), "{what}: must hash alike");
}

#[test]
fn framing_never_aliases() {
    apart("string pairs", &("ab", "c"), &("a", "bc"));
    apart(
        "nested seqs",
        &vec![vec![1u8], vec![]],
        &vec![vec![], vec![1u8]],
    );
    apart("seq of strings", &vec!["a", "b"], &vec!["ab"]);
    apart("empty string vs none", &"", &());
    apart("bytes vs string", &b"abc".to_vec(), &"abc");
    apart("0 vs b\"\\x00\"", &0u8, &b"\x00"[..]);
    apart("tuple arity", &(1u8, 2u8), &(1u8, 2u8, ()));
    apart("seq vs tuple", &vec![1u8, 2], &(1u8, 2u8));
    apart("u8 seq vs byte list", &LinkedList::from([1u8]), &vec![1u8]);
}

#[test]
fn widths_and_kinds_never_alias() {
    apart("u32 vs u64", &5u32, &5u64);
    apart("i32 vs u32", &5i32, &5u32);
    apart("u8 vs i8", &1u8, &1i8);
    apart("f32 vs f64", &1.0f32, &1.0f64);
    apart("char vs u32", &'a', &97u32);
    apart("bool vs u8", &true, &1u8);
    apart("-1i64 vs u64::MAX", &-1i64, &u64::MAX);
}

#[test]
fn options_and_results_nest_distinctly() {
    apart("None vs Some(())", &None::<()>, &Some(()));
    apart("Some(None) vs None", &Some(None::<u8>), &None::<Option<u8>>);
    apart("Ok vs Err", &Ok::<u8, u8>(1), &Err::<u8, u8>(1));
    apart("Some(0) vs 0", &Some(0u8), &0u8);
}

#[test]
fn floats_are_exact() {
    apart("signed zero", &0.0f64, &-0.0f64);
    alike(
        "NaN payloads",
        &f64::NAN,
        &f64::from_bits(0x7ff8_0000_0000_0001),
    );
    alike("negative NaN", &f32::NAN, &-f32::NAN);
    apart("NaN vs infinity", &f64::NAN, &f64::INFINITY);
}

#[test]
fn maps_pair_keys_with_values() {
    let m1 = HashMap::from([("a", 1u8), ("b", 2)]);
    let m2 = HashMap::from([("a", 2u8), ("b", 1)]);
    apart("swapped values", &m1, &m2);
    apart(
        "map vs set of pairs",
        &m1,
        &HashSet::from([("a", 1u8), ("b", 2)]),
    );
    apart("map vs its keys", &m1, &HashSet::from(["a", "b"]));
    apart("set vs seq", &BTreeSet::from([1u8, 2]), &vec![1u8, 2]);
    apart(
        "multiset multiplicity",
        &Unordered([1u8, 1].iter()),
        &Unordered([1u8].iter()),
    );
    apart(
        "empty map vs empty set",
        &BTreeMap::<u8, u8>::new(),
        &BTreeSet::<u8>::new(),
    );
}

#[test]
fn unordered_collections_ignore_order_and_hasher() {
    type Fixed = BuildHasherDefault<std::collections::hash_map::DefaultHasher>;
    let a: HashMap<u32, String> = (0..200).map(|i| (i, i.to_string())).collect();
    let mut b: HashMap<u32, String, Fixed> =
        HashMap::with_capacity_and_hasher(4096, Fixed::default());
    for i in (0..200).rev() {
        b.insert(i, i.to_string());
    }
    alike("HashMap insertion order, capacity, hasher", &a, &b);
    let bt: BTreeMap<u32, String> = a.clone().into_iter().collect();
    alike("HashMap = BTreeMap", &a, &bt);
    let hs: HashSet<&str> = ["x", "y", "z"].into();
    alike("HashSet = BTreeSet", &hs, &BTreeSet::from(["z", "y", "x"]));
    alike(
        "Unordered",
        &Unordered([3, 1, 2].iter()),
        &Unordered([1, 2, 3].iter()),
    );
    alike(
        "BinaryHeap is a multiset",
        &std::collections::BinaryHeap::from(vec![1, 5, 3]),
        &Unordered([5, 3, 1].iter()),
    );
}

#[test]
fn derived_structs() {
    alike(
        "reordered field declarations",
        &Xy { x: 1, y: 2 },
        &YxReordered { y: 2, x: 1 },
    );
    alike(
        "renamed fields",
        &Xy { x: 1, y: 2 },
        &Renamed {
            first: 2,
            second: 1,
        },
    );
    apart(
        "swapped field values",
        &Xy { x: 1, y: 2 },
        &Xy { x: 2, y: 1 },
    );
    apart("struct vs tuple", &Xy { x: 1, y: 2 }, &(1u32, 2u32));
    apart("named vs tuple struct", &Xy { x: 1, y: 2 }, &TupleXy(1, 2));
    apart("unit struct vs unit", &Unit, &());
    apart("version bump", &Versioned { x: 1 }, &Unversioned { x: 1 });
    alike(
        "skipped field",
        &WithSkip {
            kept: 1,
            scratch: vec![1],
        },
        &WithSkip {
            kept: 1,
            scratch: vec![2],
        },
    );
    apart(
        "kept field",
        &WithSkip {
            kept: 1,
            scratch: vec![],
        },
        &WithSkip {
            kept: 2,
            scratch: vec![],
        },
    );
    alike("transparent", &Meters(2.5), &2.5f64);
}

#[test]
fn derived_enums_by_variant_name() {
    alike("reordered variants", &E::B, &EReordered::B);
    alike(
        "reordered tuple variant",
        &E::Tuple(3),
        &EReordered::Tuple(3),
    );
    alike(
        "reordered named variant",
        &E::Named { v: 3 },
        &EReordered::Named { v: 3 },
    );
    apart("unit variants", &E::A, &E::B);
    apart("tuple vs named variant", &E::Tuple(1), &E::Named { v: 1 });
}

#[test]
fn transparent_wrappers() {
    let s = String::from("x");
    alike("String = str", &s, "x");
    alike("&T", &&5u8, &5u8);
    alike("Box", &Box::new(5u8), &5u8);
    alike("Rc", &Rc::new(5u8), &5u8);
    alike("Arc<[T]>", &Arc::<[u8]>::from(vec![1, 2]), &vec![1u8, 2]);
    alike("Box<str>", &Box::<str>::from("x"), "x");
    alike("Cow", &Cow::Borrowed("x"), &Cow::<str>::Owned("x".into()));
    alike("NonZero", &NonZeroU32::new(7).unwrap(), &7u32);
    alike("Wrapping", &std::num::Wrapping(7u8), &7u8);
    alike("Reverse", &std::cmp::Reverse(7u8), &7u8);
    alike("RefCell", &RefCell::new(7u8), &7u8);
    alike("Cell", &std::cell::Cell::new(7u8), &7u8);
    alike("dyn Freeze", &(&7u8 as &dyn Freeze), &7u8);
    alike("Box<dyn Freeze>", &(Box::new(7u8) as Box<dyn Freeze>), &7u8);
}

#[test]
fn byte_containers_are_one_byte_string() {
    let v = vec![1u8, 2, 3];
    alike("array", &[1u8, 2, 3], &v);
    alike("slice", &v[..], &v);
    let mut dq = VecDeque::with_capacity(4);
    dq.push_back(2u8);
    dq.push_back(3);
    dq.push_front(1); // wraps around: two slices
    alike("VecDeque<u8>", &dq, &v);
    alike(
        "VecDeque<T>",
        &VecDeque::from(vec![1u16, 2]),
        &vec![1u16, 2],
    );
    alike(
        "CString",
        &std::ffi::CString::new("ab").unwrap(),
        &b"ab"[..],
    );
}

#[test]
fn paths() {
    alike("double slash", Path::new("a//b"), Path::new("a/b"));
    alike("inner dot", Path::new("a/./b"), Path::new("a/b"));
    alike("trailing slash", Path::new("a/b/"), Path::new("a/b"));
    apart("path vs string", Path::new("a/b"), &"a/b");
    apart("relative vs absolute", Path::new("a"), Path::new("/a"));
    apart("parent dir is kept", Path::new("a/../b"), Path::new("b"));
    alike("OsString utf8", &OsString::from("x"), &OsString::from("x"));
    apart("OsString vs str", &OsString::from("x"), &"x");
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(vec![0x66, 0xff]);
        apart("non-utf8 os string", &bad, &OsString::from("f\u{fffd}"));
        alike(
            "non-utf8 path",
            &PathBuf::from(bad.clone()),
            &PathBuf::from(bad),
        );
    }
}

#[test]
fn ranges_and_time() {
    apart("half-open vs inclusive", &(1u8..3), &(1u8..=3));
    apart("from vs to", &(1u8..), &(..1u8));
    apart("to vs to-inclusive", &(..1u8), &(..=1u8));
    let mut exhausted = 1u8..=1;
    exhausted.next();
    apart("exhausted inclusive range", &exhausted, &(1u8..=1));
    apart(
        "duration vs secs",
        &std::time::Duration::from_secs(1),
        &(1u64, 0u32),
    );
    apart("phantom vs unit", &std::marker::PhantomData::<u8>, &());
    alike(
        "digest",
        &Digest::from_bytes([1; 32]),
        &Digest::from_bytes([1; 32]),
    );
}
