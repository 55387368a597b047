//! Explain mode: where two values differ, in the words of a Rust path.

use crate::frozen::Plain;
use crate::{freeze_tree, hash, Digest, Freeze, Frozen};
use std::collections::BTreeMap;
use std::fmt;

/// One step of the path from a value to the place where two values differ.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PathStep {
    /// `[i]`: an element of a sequence or byte string.
    Index(usize),
    /// `.name`: a struct or variant field, or a tuple position (`.0`).
    Field(String),
    /// `[key]`: the value under a map key (the key as displayed).
    Key(String),
    /// `.len()`: the length of a sequence, tuple or byte string.
    Len,
    /// `.has()`: membership in a set.
    Has,
    /// `.keys().has()`: membership of a key in a map.
    KeysHas,
    /// `.unwrap()`: the value inside `Some` or `Ok`.
    Unwrap,
    /// `.unwrap_err()`: the value inside `Err`.
    UnwrapErr,
}

impl fmt::Display for PathStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathStep::Index(i) => write!(f, "[{i}]"),
            PathStep::Field(name) => write!(f, ".{name}"),
            PathStep::Key(key) => write!(f, "[{key}]"),
            PathStep::Len => f.write_str(".len()"),
            PathStep::Has => f.write_str(".has()"),
            PathStep::KeysHas => f.write_str(".keys().has()"),
            PathStep::Unwrap => f.write_str(".unwrap()"),
            PathStep::UnwrapErr => f.write_str(".unwrap_err()"),
        }
    }
}

impl PathStep {
    /// Steps that go into a sub-value (not the length or membership probes).
    fn navigates(&self) -> bool {
        !matches!(self, PathStep::Len | PathStep::Has | PathStep::KeysHas)
    }
}

/// What one side holds at a differing place.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Side {
    /// The value there, displayed.
    Value(String),
    /// That side has nothing there.
    Missing,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Side::Value(v) => f.write_str(v),
            Side::Missing => f.write_str("no such element"),
        }
    }
}

/// One place where two values differ.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diff {
    /// The path from the root of both values to the place.
    pub path: Vec<PathStep>,
    /// What the first value has there.
    pub left: Side,
    /// What the second value has there.
    pub right: Side,
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path: String = self.path.iter().map(ToString::to_string).collect();
        write!(
            f,
            "obj0{path} == {}\nobj1{path} == {}",
            self.left, self.right
        )
    }
}

/// Every place where `a` and `b` differ, outermost first.
///
/// Values are compared through their [`Frozen`] trees, so the places are
/// exactly the ones that make their digests differ. Identical values yield
/// nothing.
///
/// ```
/// use charm_freeze::{iterate_diffs, PathStep, Side};
/// let diffs: Vec<_> = iterate_diffs(&vec![1, 2, 3], &vec![1, 5, 3]).collect();
/// assert_eq!(diffs.len(), 1);
/// assert_eq!(diffs[0].path, vec![PathStep::Index(1)]);
/// assert_eq!(diffs[0].left, Side::Value("2".into()));
/// ```
///
/// # Panics
///
/// As [`hash`](crate::hash), if either value cannot be frozen.
pub fn iterate_diffs<A, B>(a: &A, b: &B) -> std::vec::IntoIter<Diff>
where
    A: Freeze + ?Sized,
    B: Freeze + ?Sized,
{
    let mut out = Vec::new();
    walk(&freeze_tree(a), &freeze_tree(b), &mut Vec::new(), &mut out);
    out.into_iter()
}

/// How many differences [`summarize_diffs`] prints before summing up the rest.
const SHOWN: usize = 16;

/// A readable account of why `a` and `b` hash differently.
///
/// It starts from the deepest path the differences share
/// (`let obj0_sub = obj0.<path>`), then prints each differing place for both
/// values, with `no such element` where one side lacks it. Equal values
/// give `no differences`.
///
/// ```
/// use charm_freeze::{summarize_diffs, Freeze};
/// #[derive(Freeze)]
/// struct Config { name: String, list: Vec<i32> }
/// let obj0 = Config { name: "a".into(), list: vec![0, 1, 2] };
/// let obj1 = Config { name: "a".into(), list: vec![0, 8, 2] };
/// assert_eq!(
///     summarize_diffs(&obj0, &obj1),
///     "let obj0_sub = obj0.list\n\
///      let obj1_sub = obj1.list\n\
///      obj0_sub[1] == 1\n\
///      obj1_sub[1] == 8\n",
/// );
/// assert_eq!(summarize_diffs(&obj0, &obj0), "no differences");
/// ```
///
/// # Panics
///
/// As [`hash`](crate::hash), if either value cannot be frozen.
pub fn summarize_diffs<A, B>(a: &A, b: &B) -> String
where
    A: Freeze + ?Sized,
    B: Freeze + ?Sized,
{
    let diffs: Vec<Diff> = iterate_diffs(a, b).collect();
    if diffs.is_empty() {
        return "no differences".to_owned();
    }
    let prefix = common_prefix(&diffs);
    let prefix_text: String = diffs[0].path[..prefix]
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut out = format!("let obj0_sub = obj0{prefix_text}\nlet obj1_sub = obj1{prefix_text}\n");
    for d in diffs.iter().take(SHOWN) {
        let rest: String = d.path[prefix..].iter().map(ToString::to_string).collect();
        out += &format!("obj0_sub{rest} == {}\n", shorten(&d.left));
        out += &format!("obj1_sub{rest} == {}\n", shorten(&d.right));
    }
    if diffs.len() > SHOWN {
        out += &format!("… and {} more differences\n", diffs.len() - SHOWN);
    }
    out
}

/// The number of leading path steps all diffs share, stopping short of the
/// last step of any one of them (so each line still says what differs).
fn common_prefix(diffs: &[Diff]) -> usize {
    let first = &diffs[0].path;
    let mut n = first.iter().take_while(|s| s.navigates()).count();
    for d in diffs {
        n = n.min(d.path.len().saturating_sub(1));
        n = n.min(
            first
                .iter()
                .zip(&d.path)
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    n
}

fn shorten(side: &Side) -> String {
    const MAX: usize = 200;
    let text = side.to_string();
    if text.chars().count() <= MAX {
        return text;
    }
    let cut: String = text.chars().take(MAX).collect();
    format!("{cut}…")
}

/// Both sides displayed; type suffixes appear only when needed to tell the
/// two apart (`5u32` vs `5u64`).
fn sides(a: &Frozen, b: &Frozen) -> (Side, Side) {
    let (pa, pb) = (Plain(a).to_string(), Plain(b).to_string());
    if pa == pb {
        (Side::Value(a.to_string()), Side::Value(b.to_string()))
    } else {
        (Side::Value(pa), Side::Value(pb))
    }
}

fn one(v: &Frozen) -> Side {
    Side::Value(Plain(v).to_string())
}

fn push(out: &mut Vec<Diff>, path: &[PathStep], step: Option<PathStep>, left: Side, right: Side) {
    let mut path = path.to_vec();
    path.extend(step);
    out.push(Diff { path, left, right });
}

fn walk(a: &Frozen, b: &Frozen, path: &mut Vec<PathStep>, out: &mut Vec<Diff>) {
    if a == b {
        return;
    }
    match (a, b) {
        (Frozen::Seq(x), Frozen::Seq(y)) => {
            if x.len() != y.len() {
                let len = |v: &Vec<Frozen>| Side::Value(v.len().to_string());
                push(out, path, Some(PathStep::Len), len(x), len(y));
            }
            for i in 0..x.len().max(y.len()) {
                match (x.get(i), y.get(i)) {
                    (Some(p), Some(q)) => descend(path, PathStep::Index(i), p, q, out),
                    (Some(p), None) => {
                        push(out, path, Some(PathStep::Index(i)), one(p), Side::Missing)
                    }
                    (None, Some(q)) => {
                        push(out, path, Some(PathStep::Index(i)), Side::Missing, one(q))
                    }
                    (None, None) => {}
                }
            }
        }
        (Frozen::Tuple(x), Frozen::Tuple(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                descend(path, PathStep::Field(i.to_string()), p, q, out);
            }
        }
        (Frozen::Bytes(x), Frozen::Bytes(y)) => {
            if x.len() != y.len() {
                let len = |v: &Vec<u8>| Side::Value(v.len().to_string());
                push(out, path, Some(PathStep::Len), len(x), len(y));
            }
            if let Some(i) = x.iter().zip(y).position(|(p, q)| p != q) {
                let byte = |v: u8| Side::Value(v.to_string());
                push(out, path, Some(PathStep::Index(i)), byte(x[i]), byte(y[i]));
            }
        }
        (Frozen::Option(Some(x)), Frozen::Option(Some(y))) => {
            descend(path, PathStep::Unwrap, x, y, out)
        }
        (Frozen::Result(Ok(x)), Frozen::Result(Ok(y))) => {
            descend(path, PathStep::Unwrap, x, y, out)
        }
        (Frozen::Result(Err(x)), Frozen::Result(Err(y))) => {
            descend(path, PathStep::UnwrapErr, x, y, out)
        }
        (
            Frozen::Struct {
                name: n0,
                version: v0,
                fields: f0,
                ..
            },
            Frozen::Struct {
                name: n1,
                version: v1,
                fields: f1,
                ..
            },
        ) if n0 == n1 && v0 == v1 => walk_fields(f0, f1, path, out),
        (
            Frozen::Variant {
                enum_name: e0,
                version: v0,
                variant: w0,
                fields: f0,
                ..
            },
            Frozen::Variant {
                enum_name: e1,
                version: v1,
                variant: w1,
                fields: f1,
                ..
            },
        ) if e0 == e1 && v0 == v1 && w0 == w1 => walk_fields(f0, f1, path, out),
        (Frozen::Set(x), Frozen::Set(y)) => {
            let (x, y) = (by_digest(x.iter()), by_digest(y.iter()));
            for (d, v) in &x {
                if !y.contains_key(d) {
                    push(out, path, Some(PathStep::Has), one(v), Side::Missing);
                }
            }
            for (d, v) in &y {
                if !x.contains_key(d) {
                    push(out, path, Some(PathStep::Has), Side::Missing, one(v));
                }
            }
        }
        (Frozen::Map(x), Frozen::Map(y)) => walk_maps(x, y, path, out),
        _ => {
            let (l, r) = sides(a, b);
            push(out, path, None, l, r);
        }
    }
}

fn descend(path: &mut Vec<PathStep>, step: PathStep, x: &Frozen, y: &Frozen, out: &mut Vec<Diff>) {
    path.push(step);
    walk(x, y, path, out);
    path.pop();
}

fn walk_fields(
    f0: &[(String, Frozen)],
    f1: &[(String, Frozen)],
    path: &mut Vec<PathStep>,
    out: &mut Vec<Diff>,
) {
    let left: BTreeMap<&str, &Frozen> = f0.iter().map(|(n, v)| (n.as_str(), v)).collect();
    let right: BTreeMap<&str, &Frozen> = f1.iter().map(|(n, v)| (n.as_str(), v)).collect();
    let names: std::collections::BTreeSet<&str> =
        left.keys().chain(right.keys()).copied().collect();
    for name in names {
        let step = PathStep::Field(name.to_owned());
        match (left.get(name), right.get(name)) {
            (Some(x), Some(y)) => descend(path, step, x, y, out),
            (Some(x), None) => push(out, path, Some(step), one(x), Side::Missing),
            (None, Some(y)) => push(out, path, Some(step), Side::Missing, one(y)),
            (None, None) => {}
        }
    }
}

fn by_digest<'a>(items: impl Iterator<Item = &'a Frozen>) -> BTreeMap<Digest, &'a Frozen> {
    items.map(|v| (hash(v), v)).collect()
}

fn walk_maps(x: &[Frozen], y: &[Frozen], path: &mut Vec<PathStep>, out: &mut Vec<Diff>) {
    let keyed = |items: &'_ [Frozen]| -> Option<BTreeMap<Digest, (Frozen, Frozen)>> {
        items
            .iter()
            .map(|e| e.as_entry().map(|(k, v)| (hash(k), (k.clone(), v.clone()))))
            .collect()
    };
    let (Some(kx), Some(ky)) = (keyed(x), keyed(y)) else {
        // Entries that are not key-value pairs (version trees): compare as sets.
        return walk(
            &Frozen::Set(x.to_vec()),
            &Frozen::Set(y.to_vec()),
            path,
            out,
        );
    };
    for (d, (k, _)) in &kx {
        if !ky.contains_key(d) {
            push(out, path, Some(PathStep::KeysHas), one(k), Side::Missing);
        }
    }
    for (d, (k, _)) in &ky {
        if !kx.contains_key(d) {
            push(out, path, Some(PathStep::KeysHas), Side::Missing, one(k));
        }
    }
    for (d, (k, v0)) in &kx {
        if let Some((_, v1)) = ky.get(d) {
            descend(path, PathStep::Key(Plain(k).to_string()), v0, v1, out);
        }
    }
}
