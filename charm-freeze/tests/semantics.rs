//! Cache keys and versions, cycles, errors, and the derive's attributes.

use charm_freeze::{
    hash, hash_cache_key, hash_cache_ver, try_hash, Freeze, FreezeError, Freezer, Purpose,
};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;

/// A stand-in for a file handle: keyed by path, versioned by contents.
#[derive(Clone, PartialEq, Eq, Hash)]
struct File {
    path: String,
    contents: String,
}

impl Freeze for File {
    fn freeze(&self, f: &mut Freezer) {
        f.struct_("File", 0, 2, |s| {
            s.field("contents", &self.contents);
            s.field("path", &self.path);
        })
    }
    fn freeze_cache_key(&self, f: &mut Freezer) {
        f.write(&self.path)
    }
    fn freeze_cache_ver(&self, f: &mut Freezer) {
        f.digest(&hash(&self.contents))
    }
}

fn file(path: &str, contents: &str) -> File {
    File {
        path: path.into(),
        contents: contents.into(),
    }
}

#[test]
fn plain_values_have_a_constant_version() {
    assert_eq!(hash_cache_ver(&1u32), hash_cache_ver(&2u32));
    assert_eq!(hash_cache_ver(&"a"), hash_cache_ver(&"bcd"));
    assert_eq!(hash_cache_key(&7u8), hash(&7u8));
    let big = vec![0u8; 1 << 20];
    assert_eq!(hash_cache_ver(&big), hash_cache_ver(&vec![1u8; 3]));
}

#[test]
fn containers_forward_keys_and_versions_to_elements() {
    let v1 = vec![file("a", "1"), file("b", "1")];
    let v2 = vec![file("a", "1"), file("b", "2")];
    assert_eq!(hash_cache_key(&v1), hash_cache_key(&v2));
    assert_ne!(hash_cache_ver(&v1), hash_cache_ver(&v2));
    let o1 = (Some(file("a", "1")), 3u8);
    let o2 = (Some(file("a", "2")), 3u8);
    assert_eq!(hash_cache_key(&o1), hash_cache_key(&o2));
    assert_ne!(hash_cache_ver(&o1), hash_cache_ver(&o2));
    let b1 = Box::new(Rc::new(file("a", "1")));
    let b2 = Box::new(Rc::new(file("a", "2")));
    assert_ne!(hash_cache_ver(&b1), hash_cache_ver(&b2));
}

#[test]
fn swapping_versions_inside_a_set_changes_its_version() {
    let s1 = HashSet::from([file("a", "1"), file("b", "2")]);
    let s2 = HashSet::from([file("a", "2"), file("b", "1")]);
    assert_eq!(hash_cache_key(&s1), hash_cache_key(&s2));
    assert_ne!(hash_cache_ver(&s1), hash_cache_ver(&s2));
    let m1 = HashMap::from([(1u8, file("a", "1")), (2, file("b", "2"))]);
    let m2 = HashMap::from([(1u8, file("a", "2")), (2, file("b", "1"))]);
    assert_eq!(hash_cache_key(&m1), hash_cache_key(&m2));
    assert_ne!(hash_cache_ver(&m1), hash_cache_ver(&m2));
    // Sets of plain values: the version only depends on the size.
    assert_eq!(
        hash_cache_ver(&HashSet::from([1, 2])),
        hash_cache_ver(&HashSet::from([3, 4]))
    );
}

#[derive(Freeze)]
struct Job {
    input: File,
    threads: u32,
}

#[test]
fn derived_structs_forward_keys_and_versions() {
    let a = Job {
        input: file("in", "1"),
        threads: 2,
    };
    let b = Job {
        input: file("in", "2"),
        threads: 2,
    };
    assert_eq!(hash_cache_key(&a), hash_cache_key(&b));
    assert_ne!(hash_cache_ver(&a), hash_cache_ver(&b));
    assert_ne!(hash(&a), hash(&b));
}

fn key_by_id(r: &Record, f: &mut Freezer) {
    f.write(&r.id)
}

fn ver_by_rev(r: &Record, f: &mut Freezer) {
    f.write(&r.rev)
}

#[derive(Freeze)]
#[freeze(cache_key = key_by_id, cache_ver = ver_by_rev)]
struct Record {
    id: u64,
    rev: u32,
    body: String,
}

#[derive(Freeze)]
#[freeze(via = state_of)]
struct RecordState {
    id: u64,
    rev: u32,
    #[allow(dead_code)]
    body: String,
}

fn state_of(r: &RecordState) -> (u64, u32) {
    (r.id, r.rev)
}

#[test]
fn cache_key_cache_ver_and_via_attributes() {
    let r = |id, rev, body: &str| Record {
        id,
        rev,
        body: body.into(),
    };
    assert_eq!(hash_cache_key(&r(1, 1, "a")), hash_cache_key(&r(1, 2, "b")));
    assert_ne!(hash_cache_ver(&r(1, 1, "a")), hash_cache_ver(&r(1, 2, "a")));
    assert_ne!(hash(&r(1, 1, "a")), hash(&r(1, 1, "b")));
    let s = RecordState {
        id: 1,
        rev: 2,
        body: "ignored".into(),
    };
    assert_eq!(hash(&s), hash(&state_of(&s)));
}

#[derive(Freeze)]
struct Generic<T, U> {
    a: T,
    b: Vec<U>,
}

#[derive(Freeze)]
#[freeze(bound = "")]
struct OnlyPhantom<T> {
    marker: std::marker::PhantomData<T>,
}

struct NotFreeze;

#[test]
fn generics_and_bounds() {
    let g = Generic {
        a: "x",
        b: vec![1u8],
    };
    assert_eq!(
        hash(&g),
        hash(&Generic {
            a: "x",
            b: vec![1u8]
        })
    );
    let p: OnlyPhantom<NotFreeze> = OnlyPhantom {
        marker: std::marker::PhantomData,
    };
    assert!(try_hash(&p).is_ok());
}

/// A node in a cyclic graph.
struct Node {
    label: u32,
    next: RefCell<Option<Rc<Node>>>,
}

impl Freeze for Node {
    fn freeze(&self, f: &mut Freezer) {
        f.struct_("Node", 0, 2, |s| {
            s.field("label", &self.label);
            s.field("next", &self.next);
        })
    }
}

fn ring(labels: &[u32]) -> Rc<Node> {
    let nodes: Vec<Rc<Node>> = labels
        .iter()
        .map(|&label| {
            Rc::new(Node {
                label,
                next: RefCell::new(None),
            })
        })
        .collect();
    for (i, n) in nodes.iter().enumerate() {
        *n.next.borrow_mut() = Some(nodes[(i + 1) % nodes.len()].clone());
    }
    nodes[0].clone()
}

fn break_ring(n: &Rc<Node>) {
    n.next.borrow_mut().take();
}

#[test]
fn cycles_terminate_and_stay_deterministic() {
    let a = ring(&[1, 2, 3]);
    let b = ring(&[1, 2, 3]);
    let c = ring(&[1, 2, 4]);
    let d = ring(&[1, 2]);
    assert_eq!(hash(&a), hash(&b), "same shape, different addresses");
    assert_ne!(hash(&a), hash(&c));
    assert_ne!(hash(&a), hash(&d));
    for n in [&a, &b, &c, &d] {
        break_ring(n);
    }
    // Shared but acyclic values are frozen in full each time.
    let shared = Arc::new(vec![1u8, 2]);
    assert_eq!(
        hash(&(shared.clone(), shared)),
        hash(&(vec![1u8, 2], vec![1u8, 2]))
    );
}

#[test]
fn errors_are_reported_not_hidden() {
    let cell = RefCell::new(vec![1u8]);
    let guard = cell.borrow_mut();
    let err = try_hash(&cell).unwrap_err();
    assert!(matches!(err, FreezeError::Borrowed { .. }));
    assert!(err.to_string().contains("mutably borrowed"));
    drop(guard);
    assert!(try_hash(&cell).is_ok());

    struct Liar;
    impl Freeze for Liar {
        fn freeze(&self, f: &mut Freezer) {
            f.seq(3, |s| s.element(&1u8));
        }
    }
    let err = try_hash(&Liar).unwrap_err();
    assert_eq!(
        err,
        FreezeError::CountMismatch {
            kind: "seq",
            declared: 3,
            written: 1
        }
    );

    // The freezer counts the values actually written, so a closure or an
    // impl that writes two values (or none) where one belongs is an error.
    struct TwoForOne;
    impl Freeze for TwoForOne {
        fn freeze(&self, f: &mut Freezer) {
            f.u8(1);
            f.u8(2);
        }
    }
    assert!(matches!(
        try_hash(&vec![TwoForOne]).unwrap_err(),
        FreezeError::CountMismatch {
            kind: "seq",
            declared: 1,
            written: 2
        }
    ));
    assert!(matches!(
        try_hash(
            &HashSet::from([1u8])
                .iter()
                .map(|_| TwoForOne)
                .collect::<Vec<_>>()
        )
        .unwrap_err(),
        FreezeError::CountMismatch { .. }
    ));
    struct Silent;
    impl Freeze for Silent {
        fn freeze(&self, f: &mut Freezer) {
            f.struct_("Silent", 0, 1, |s| s.field_with("x", |_| {}));
        }
    }
    assert!(matches!(
        try_hash(&Silent).unwrap_err(),
        FreezeError::CountMismatch {
            kind: "field values",
            declared: 1,
            written: 0
        }
    ));
    struct InSet;
    impl Freeze for InSet {
        fn freeze(&self, f: &mut Freezer) {
            f.unit();
            f.unit();
        }
    }
    assert!(matches!(
        try_hash(&charm_freeze::Unordered([InSet].iter())).unwrap_err(),
        FreezeError::CountMismatch {
            kind: "element",
            declared: 1,
            written: 2
        }
    ));

    struct Unsorted;
    impl Freeze for Unsorted {
        fn freeze(&self, f: &mut Freezer) {
            f.struct_("Unsorted", 0, 2, |s| {
                s.field("b", &1u8);
                s.field("a", &2u8);
            });
        }
    }
    let err = try_hash(&Unsorted).unwrap_err();
    assert!(err.to_string().contains("ascending"), "{err}");
}

#[test]
fn recursion_limit_is_an_error_not_a_stack_overflow() {
    // Nested 255 deep works; beyond the limit is an error.
    let mut deep: Box<dyn Freeze> = Box::new(0u8);
    for _ in 0..255 {
        deep = Box::new(Some(deep));
    }
    assert!(try_hash(&deep).is_ok());
    let mut deeper: Box<dyn Freeze> = Box::new(0u8);
    for _ in 0..300 {
        deeper = Box::new(Some(deeper));
    }
    assert_eq!(
        try_hash(&deeper).unwrap_err(),
        FreezeError::RecursionLimit { limit: 256 }
    );
    let mut f = Freezer::new(Purpose::Value).with_recursion_limit(400);
    f.write(&deeper);
    assert!(f.finish().is_ok());
}

#[test]
#[should_panic(expected = "cannot freeze value")]
fn hash_panics_with_a_clear_message() {
    let cell = RefCell::new(1u8);
    let _g = cell.borrow_mut();
    hash(&cell);
}

#[test]
fn btreemap_of_files_version_follows_contents() {
    let m1 = BTreeMap::from([("x", file("a", "1"))]);
    let m2 = BTreeMap::from([("x", file("a", "2"))]);
    assert_ne!(hash_cache_ver(&m1), hash_cache_ver(&m2));
}

mod reexport {
    pub(crate) use charm_freeze as freeze;
}

fn as_upper(s: &str, f: &mut Freezer) {
    f.str(&s.to_uppercase())
}

#[derive(Freeze)]
#[freeze(crate = "reexport::freeze", name = "Tag")]
struct ThroughReexport {
    #[freeze(with = "as_upper")]
    label: String,
}

#[derive(Freeze)]
#[freeze(name = "Tag")]
struct Direct {
    label: String,
}

#[derive(Freeze)]
enum Old {
    #[freeze(rename = "Current")]
    Legacy(u8),
}

#[derive(Freeze)]
#[freeze(name = "Old")]
enum New {
    Current(u8),
}

#[test]
fn crate_path_quoted_with_and_variant_rename() {
    let a = ThroughReexport { label: "ab".into() };
    assert_eq!(hash(&a), hash(&Direct { label: "AB".into() }));
    assert_eq!(hash(&Old::Legacy(1)), hash(&New::Current(1)));
}
