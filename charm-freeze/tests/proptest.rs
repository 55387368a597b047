//! Randomised properties: clone equality, and `a == b ⇔ hash(a) == hash(b)`.

use charm_freeze::{freeze_tree, hash, Freeze};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

#[derive(Freeze, Clone, Debug, PartialEq)]
struct Record {
    id: u64,
    name: String,
    tags: BTreeSet<String>,
    scores: Vec<i32>,
    parent: Option<Box<Record>>,
    kind: Kind,
}

#[derive(Freeze, Clone, Debug, PartialEq)]
enum Kind {
    Plain,
    Weighted(u16),
    Labelled { label: String, weight: i8 },
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Plain),
        any::<u16>().prop_map(Kind::Weighted),
        ("[a-c]{0,3}", any::<i8>()).prop_map(|(label, weight)| Kind::Labelled { label, weight }),
    ]
}

fn leaf() -> impl Strategy<Value = Record> {
    (
        0u64..4,
        "[ab]{0,2}",
        prop::collection::btree_set("[xy]{1,2}", 0..3),
        prop::collection::vec(-2i32..2, 0..3),
        kind(),
    )
        .prop_map(|(id, name, tags, scores, kind)| Record {
            id,
            name,
            tags,
            scores,
            parent: None,
            kind,
        })
}

fn record() -> impl Strategy<Value = Record> {
    leaf().prop_recursive(3, 8, 1, |inner| {
        (leaf(), inner).prop_map(|(mut r, p)| {
            r.parent = Some(Box::new(p));
            r
        })
    })
}

fn check_iff<T: Freeze + PartialEq + std::fmt::Debug>(a: &T, b: &T) -> Result<(), TestCaseError> {
    prop_assert_eq!(a == b, hash(a) == hash(b), "a = {:?}, b = {:?}", a, b);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn clones_hash_alike(r in record(), m in prop::collection::hash_map(any::<u16>(), ".{0,4}", 0..20)) {
        prop_assert_eq!(hash(&r.clone()), hash(&r));
        prop_assert_eq!(hash(&m.clone()), hash(&m));
        prop_assert_eq!(freeze_tree(&r).digest(), hash(&r));
    }

    #[test]
    fn equal_iff_same_digest_for_records(a in record(), b in record()) {
        check_iff(&a, &b)?;
    }

    #[test]
    fn equal_iff_same_digest_for_std_types(
        s in (".{0,3}", ".{0,3}"),
        t in (".{0,3}", ".{0,3}"),
        u in prop::collection::vec(any::<Option<u8>>(), 0..4),
        v in prop::collection::vec(any::<Option<u8>>(), 0..4),
        f in any::<f64>(), g in any::<f64>(),
        m in prop::collection::hash_map(0u8..4, 0u8..3, 0..4),
        n in prop::collection::hash_map(0u8..4, 0u8..3, 0..4),
        p in prop::collection::hash_set(prop::collection::vec(0u8..2, 0..3), 0..4),
        q in prop::collection::hash_set(prop::collection::vec(0u8..2, 0..3), 0..4),
        w in prop::collection::btree_map(".{0,2}", any::<bool>(), 0..3),
        x in prop::collection::btree_map(".{0,2}", any::<bool>(), 0..3),
    ) {
        check_iff(&s, &t)?;
        check_iff(&u, &v)?;
        // Floats: equal bit patterns (NaNs aside) ⇔ equal digests.
        let same_float = f.to_bits() == g.to_bits() || (f.is_nan() && g.is_nan());
        prop_assert_eq!(same_float, hash(&f) == hash(&g));
        check_iff(&m, &n)?;
        check_iff(&p, &q)?;
        check_iff(&w, &x)?;
    }

    #[test]
    fn unordered_collections_ignore_insertion_order(mut items in prop::collection::vec((any::<u32>(), ".{0,3}"), 0..30)) {
        let forward: HashMap<u32, String> = items.iter().cloned().collect();
        items.reverse();
        let backward: HashMap<u32, String> = items.iter().cloned().collect();
        let tree: BTreeMap<u32, String> = forward.clone().into_iter().collect();
        prop_assert_eq!(hash(&forward), hash(&backward));
        prop_assert_eq!(hash(&forward), hash(&tree));
        let keys: HashSet<u32> = forward.keys().copied().collect();
        let ordered: BTreeSet<u32> = keys.iter().copied().collect();
        prop_assert_eq!(hash(&keys), hash(&ordered));
    }
}
