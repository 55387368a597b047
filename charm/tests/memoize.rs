//! `#[memoize]` and `#[freeze_fn]`: calls, function state, deps, methods,
//! `Result`s.

#![allow(clippy::unwrap_used)]

use charm::__private::FnState;
use charm::{Digest, MemoizedGroup};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

static GROUP: LazyLock<Arc<MemoizedGroup>> =
    LazyLock::new(|| MemoizedGroup::builder().temporary(true).build().unwrap());

fn group() -> Arc<MemoizedGroup> {
    GROUP.clone()
}

fn state<F: FnState>() -> Digest {
    F::state(&mut Vec::new())
}

static RUNS: AtomicUsize = AtomicUsize::new(0);

/// Counts its runs.
#[charm::memoize(group = group())]
fn word_lengths(text: &str, min: usize) -> Vec<usize> {
    RUNS.fetch_add(1, Ordering::SeqCst);
    text.split_whitespace()
        .map(str::len)
        .filter(|n| *n >= min)
        .collect()
}

#[test]
fn a_memoized_function_computes_once_per_key() {
    let before = RUNS.load(Ordering::SeqCst);
    assert_eq!(word_lengths("a bb ccc", 2), vec![2, 3]);
    assert_eq!(word_lengths("a bb ccc", 2), vec![2, 3]);
    assert_eq!(word_lengths("a bb ccc", 1), vec![1, 2, 3]);
    assert_eq!(RUNS.load(Ordering::SeqCst) - before, 2);
    let memo = word_lengths::memoized();
    assert!(memo.would_hit(&("a bb ccc", 2usize)));
    assert!(
        memo.name().ends_with("memoize::word_lengths"),
        "{}",
        memo.name()
    );
}

mod a {
    #[charm::freeze_fn]
    pub(crate) fn helper() -> u8 {
        1
    }
}

#[allow(dead_code)]
mod same_as_a {
    /// The same code as `a::helper` (docs do not count).
    #[charm::freeze_fn]
    pub(crate) fn helper() -> u8 {
        1 // and neither do comments
    }
}

#[allow(dead_code)]
mod b {
    #[charm::freeze_fn]
    pub(crate) fn helper() -> u8 {
        2
    }
}

#[allow(dead_code)]
mod bumped {
    #[charm::freeze_fn(version = "2")]
    pub(crate) fn helper() -> u8 {
        1
    }
}

mod uses_a {
    #[charm::memoize(group = crate::group(), deps = [crate::a::helper])]
    pub(crate) fn f() -> u8 {
        crate::a::helper()
    }
}

mod uses_same {
    #[charm::memoize(group = crate::group(), deps = [crate::same_as_a::helper])]
    pub(crate) fn f() -> u8 {
        crate::a::helper()
    }
}

mod uses_b {
    #[charm::memoize(group = crate::group(), deps = [crate::b::helper])]
    pub(crate) fn f() -> u8 {
        crate::a::helper()
    }
}

#[test]
fn function_state_follows_code_version_and_deps() {
    assert_eq!(
        state::<a::helper>(),
        state::<same_as_a::helper>(),
        "docs, comments, layout"
    );
    assert_ne!(state::<a::helper>(), state::<b::helper>(), "a body edit");
    assert_ne!(
        state::<a::helper>(),
        state::<bumped::helper>(),
        "a version bump"
    );
    assert_eq!(state::<uses_a::f>(), state::<uses_same::f>(), "equal deps");
    assert_ne!(
        state::<uses_a::f>(),
        state::<uses_b::f>(),
        "a dep's body edit"
    );
    assert_eq!(uses_a::f(), 1);
    assert_eq!(uses_b::f(), 1);
}

#[charm::freeze_fn(deps = [pong])]
fn ping() -> u8 {
    0
}

#[charm::freeze_fn(deps = [ping])]
fn pong() -> u8 {
    0
}

#[test]
fn cycles_of_deps_terminate() {
    assert_eq!(state::<ping>(), state::<ping>());
    assert_ne!(state::<ping>(), state::<pong>());
    assert_eq!(ping() + pong(), 0);
}

static PARSES: AtomicUsize = AtomicUsize::new(0);

#[charm::memoize(group = group())]
fn parse(text: String) -> Result<u32, std::num::ParseIntError> {
    PARSES.fetch_add(1, Ordering::SeqCst);
    text.parse()
}

#[charm::memoize(group = group(), cache_errors = true)]
fn parse_all(text: String) -> Result<u32, String> {
    PARSES.fetch_add(1, Ordering::SeqCst);
    text.parse()
        .map_err(|e: std::num::ParseIntError| e.to_string())
}

#[test]
fn results_cache_ok_only_unless_told() {
    let before = PARSES.load(Ordering::SeqCst);
    assert!(parse("x".into()).is_err());
    assert!(parse("x".into()).is_err());
    assert_eq!(parse("5".into()), Ok(5));
    assert_eq!(parse("5".into()), Ok(5));
    assert_eq!(
        PARSES.load(Ordering::SeqCst) - before,
        3,
        "errors recomputed, Ok cached"
    );
    let before = PARSES.load(Ordering::SeqCst);
    assert!(parse_all("y".into()).is_err());
    assert!(parse_all("y".into()).is_err());
    assert_eq!(
        PARSES.load(Ordering::SeqCst) - before,
        1,
        "cache_errors caches Err too"
    );
}

#[derive(charm::Freeze)]
struct Model {
    weight: i64,
}

static PREDICTIONS: AtomicUsize = AtomicUsize::new(0);

impl Model {
    #[charm::memoize(group = crate::group())]
    fn predict(&self, x: i64) -> i64 {
        PREDICTIONS.fetch_add(1, Ordering::SeqCst);
        self.weight * x
    }
}

#[test]
fn methods_key_on_self_too() {
    let m2 = Model { weight: 2 };
    let m3 = Model { weight: 3 };
    let before = PREDICTIONS.load(Ordering::SeqCst);
    assert_eq!(m2.predict(5), 10);
    assert_eq!(m3.predict(5), 15, "another self is another key");
    assert_eq!(Model { weight: 2 }.predict(5), 10, "an equal self hits");
    assert_eq!(PREDICTIONS.load(Ordering::SeqCst) - before, 2);
}

static SETTING: AtomicUsize = AtomicUsize::new(1);
static SCALED: AtomicUsize = AtomicUsize::new(0);

#[charm::memoize(group = group(), extra_func_state = SETTING.load(Ordering::SeqCst))]
fn scaled(x: usize) -> usize {
    SCALED.fetch_add(1, Ordering::SeqCst);
    x * SETTING.load(Ordering::SeqCst)
}

#[test]
fn extra_func_state_is_read_on_each_call() {
    let before = SCALED.load(Ordering::SeqCst);
    assert_eq!(scaled(3), 3);
    assert_eq!(scaled(3), 3);
    SETTING.store(2, Ordering::SeqCst);
    assert_eq!(scaled(3), 6, "a changed setting misses");
    assert_eq!(SCALED.load(Ordering::SeqCst) - before, 2);
}

static CACHE: LazyLock<Arc<MemoizedGroup>> =
    LazyLock::new(|| MemoizedGroup::builder().temporary(true).build().unwrap());

/// The generated code must not shadow the user's names (a static named
/// `CACHE` in the `group` expression, say).
#[charm::memoize(group = CACHE.clone())]
fn hygienic(x: u8) -> u8 {
    x
}

#[test]
fn generated_names_do_not_shadow_the_users() {
    assert_eq!(hygienic(4), 4);
    assert!(Arc::ptr_eq(hygienic::memoized().group(), &CACHE));
}

static FETCHES: AtomicUsize = AtomicUsize::new(0);

/// An async function, memoized.
#[charm::memoize(group = group())]
async fn fetch(url: String) -> String {
    FETCHES.fetch_add(1, Ordering::SeqCst);
    format!("body of {url}")
}

#[charm::memoize(group = group())]
async fn fetch_checked(url: String) -> Result<usize, String> {
    FETCHES.fetch_add(1, Ordering::SeqCst);
    if url.is_empty() {
        return Err("empty url".into());
    }
    Ok(url.len())
}

fn assert_send<T: Send>(t: T) -> T {
    t
}

#[test]
fn async_functions_are_memoized_on_a_real_executor() {
    let before = FETCHES.load(Ordering::SeqCst);
    let a = futures_executor::block_on(assert_send(fetch("https://a".into())));
    let b = futures_executor::block_on(fetch("https://a".into()));
    assert_eq!(a, "body of https://a");
    assert_eq!(a, b);
    assert_eq!(
        FETCHES.load(Ordering::SeqCst) - before,
        1,
        "the second await hit"
    );
    let before = FETCHES.load(Ordering::SeqCst);
    assert!(futures_executor::block_on(fetch_checked(String::new())).is_err());
    assert!(futures_executor::block_on(fetch_checked(String::new())).is_err());
    assert_eq!(
        futures_executor::block_on(fetch_checked("xyz".into())),
        Ok(3)
    );
    assert_eq!(
        futures_executor::block_on(fetch_checked("xyz".into())),
        Ok(3)
    );
    assert_eq!(
        FETCHES.load(Ordering::SeqCst) - before,
        3,
        "errors recomputed, Ok cached"
    );
}

trait Area {
    fn area(&self, scale: u32) -> u32;
}

#[derive(charm::Freeze)]
struct Square {
    side: u32,
}

static AREAS: AtomicUsize = AtomicUsize::new(0);

impl Area for Square {
    #[charm::memoize(group = crate::group())]
    fn area(&self, scale: u32) -> u32 {
        AREAS.fetch_add(1, Ordering::SeqCst);
        self.side * self.side * scale
    }
}

#[test]
fn trait_impl_methods_are_memoized() {
    let before = AREAS.load(Ordering::SeqCst);
    let s = Square { side: 3 };
    assert_eq!(s.area(2), 18);
    assert_eq!(s.area(2), 18);
    assert_eq!((&s as &dyn Area).area(2), 18);
    assert_eq!(AREAS.load(Ordering::SeqCst) - before, 1);
}

static SWITCHED: AtomicUsize = AtomicUsize::new(0);
static OFF: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Cached unless `OFF` says otherwise; takes `mut` arguments.
#[charm::memoize(group = group(), disable = OFF.load(Ordering::SeqCst))]
fn switchable(mut x: u32) -> u32 {
    SWITCHED.fetch_add(1, Ordering::SeqCst);
    x += 1;
    x
}

#[test]
fn the_uncached_body_typed_would_hit_and_disable_are_beside_the_function() {
    let runs = || SWITCHED.load(Ordering::SeqCst);
    assert!(!switchable::would_hit(5), "typed: the argument as declared");
    assert_eq!(switchable(5), 6);
    assert!(switchable::would_hit(5));
    assert_eq!(switchable(5), 6);
    assert_eq!(runs(), 1);
    assert_eq!(switchable::uncached(5), 6, "the body, always run");
    assert_eq!(runs(), 2);
    OFF.store(true, Ordering::SeqCst);
    assert_eq!(switchable(5), 6);
    assert_eq!(switchable(5), 6);
    assert_eq!(runs(), 4, "disabled: every call computes");
    OFF.store(false, Ordering::SeqCst);
    assert_eq!(switchable(5), 6);
    assert_eq!(runs(), 4, "on again: the cached value");
}

#[derive(charm::Freeze)]
struct Rect {
    w: u32,
    h: u32,
}

static RECT_RUNS: AtomicUsize = AtomicUsize::new(0);

#[charm::memoized_impl]
impl Rect {
    #[charm::memoize(group = group())]
    fn scaled_area(&self, mut k: u32) -> u32 {
        RECT_RUNS.fetch_add(1, Ordering::SeqCst);
        k *= self.w * self.h;
        k
    }
}

trait Perimeter {
    fn perimeter(&self) -> u32;
}

#[charm::memoized_impl]
impl Perimeter for Rect {
    #[charm::memoize(group = group())]
    fn perimeter(&self) -> u32 {
        RECT_RUNS.fetch_add(1, Ordering::SeqCst);
        2 * (self.w + self.h)
    }
}

#[test]
fn memoized_impl_gives_methods_handles_in_inherent_and_trait_impls() {
    let r = Rect { w: 2, h: 5 };
    let runs = || RECT_RUNS.load(Ordering::SeqCst);
    assert!(!r.scaled_area_would_hit(3));
    assert_eq!(r.scaled_area(3), 30);
    assert_eq!(r.scaled_area(3), 30);
    assert!(r.scaled_area_would_hit(3));
    assert_eq!(runs(), 1);
    assert_eq!(r.scaled_area_uncached(3), 30);
    assert_eq!(runs(), 2);
    assert_eq!(Rect::scaled_area_memoized().usage().hits, 1);

    assert_eq!(r.perimeter(), 14);
    assert_eq!(r.perimeter(), 14);
    assert_eq!(runs(), 3);
    assert!(r.perimeter_would_hit());
    assert!(Rect::perimeter_memoized()
        .name()
        .ends_with("Rect::perimeter"));
}

static BYTE_RUNS: AtomicUsize = AtomicUsize::new(0);

type Bytes = Vec<u8>;

/// Returns bytes, spelled through an alias: stored as they are.
#[charm::memoize(group = group())]
fn repeated(byte: u8, n: usize) -> Bytes {
    BYTE_RUNS.fetch_add(1, Ordering::SeqCst);
    vec![byte; n]
}

/// Returns bytes, through the pickler it names.
#[charm::memoize(group = group(), pickler = "json")]
fn repeated_json(byte: u8, n: usize) -> Vec<u8> {
    BYTE_RUNS.fetch_add(1, Ordering::SeqCst);
    vec![byte; n]
}

#[test]
fn a_vec_u8_result_is_stored_as_its_bytes_unless_a_pickler_is_named() {
    let before = BYTE_RUNS.load(Ordering::SeqCst);
    assert_eq!(repeated(7, 100_000), vec![7; 100_000]);
    assert_eq!(repeated(7, 100_000), vec![7; 100_000]);
    assert_eq!(repeated_json(7, 10), vec![7; 10]);
    assert_eq!(repeated_json(7, 10), vec![7; 10]);
    assert_eq!(BYTE_RUNS.load(Ordering::SeqCst) - before, 2);
    let raw = group().usage();
    let bytes_of = |name: &str| {
        raw.functions
            .iter()
            .find(|f| f.name.ends_with(name))
            .map(|f| f.bytes)
            .unwrap()
    };
    // Raw: the object is the 100 000 bytes themselves and the 76-byte
    // trailer of every stored object (postcard would add a 3-byte length
    // prefix; JSON writes "7," per byte). The 21 JSON bytes are few enough
    // to live in the index, counted with 256 bytes for their record.
    assert_eq!(bytes_of("::repeated"), 100_000 + 76, "{raw:?}");
    assert_eq!(bytes_of("::repeated_json"), 21 + 256, "{raw:?}");
    assert_ne!(
        repeated::memoized().function_state().unwrap(),
        repeated_json::memoized().function_state().unwrap()
    );
}
