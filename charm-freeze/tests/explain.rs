//! Explain mode: the tree that is hashed, and where two values differ.

use charm_freeze::{
    freeze_tree, hash, iterate_diffs, summarize_diffs, try_freeze_tree, Freeze, Frozen, PathStep,
    Purpose, Side,
};
use std::collections::{BTreeSet, HashMap, HashSet};

#[derive(Freeze, Clone)]
struct Config {
    name: String,
    list: Vec<i32>,
    #[freeze(skip)]
    #[allow(dead_code)]
    cache: Option<String>,
}

fn config(list: Vec<i32>) -> Config {
    Config {
        name: "a".into(),
        list,
        cache: None,
    }
}

#[test]
fn the_freeze_md_example() {
    let obj0 = config(vec![0, 1, 2]);
    let obj1 = config(vec![0, 8, 2]);
    assert_eq!(
        summarize_diffs(&obj0, &obj1),
        "let obj0_sub = obj0.list\nlet obj1_sub = obj1.list\nobj0_sub[1] == 1\nobj1_sub[1] == 8\n"
    );
}

#[test]
fn identical_values_have_no_differences() {
    assert_eq!(
        summarize_diffs(&config(vec![1]), &config(vec![1])),
        "no differences"
    );
    assert_eq!(iterate_diffs(&1u8, &1u8).count(), 0);
}

#[test]
fn lengths_missing_elements_and_no_such_element() {
    let text = summarize_diffs(&vec![1, 2, 3], &vec![1, 2]);
    assert_eq!(
        text,
        "let obj0_sub = obj0\nlet obj1_sub = obj1\n\
         obj0_sub.len() == 3\nobj1_sub.len() == 2\n\
         obj0_sub[2] == 3\nobj1_sub[2] == no such element\n"
    );
}

#[test]
fn sets_and_maps() {
    let a = HashSet::from([3, 4]);
    let b = HashSet::from([3, 5]);
    let text = summarize_diffs(&a, &b);
    assert!(
        text.contains("obj0_sub.has() == 4\nobj1_sub.has() == no such element"),
        "{text}"
    );
    assert!(
        text.contains("obj0_sub.has() == no such element\nobj1_sub.has() == 5"),
        "{text}"
    );

    let m0 = HashMap::from([("a", 5), ("b", 6), ("c", 7)]);
    let m1 = HashMap::from([("a", 5), ("b", 7), ("d", 8)]);
    let text = summarize_diffs(&m0, &m1);
    assert!(
        text.contains("obj0_sub.keys().has() == \"c\"\nobj1_sub.keys().has() == no such element"),
        "{text}"
    );
    assert!(
        text.contains("obj0_sub.keys().has() == no such element\nobj1_sub.keys().has() == \"d\""),
        "{text}"
    );
    assert!(
        text.contains("obj0_sub[\"b\"] == 6\nobj1_sub[\"b\"] == 7"),
        "{text}"
    );
}

#[test]
fn deepest_common_prefix_through_maps_and_options() {
    let a = HashMap::from([("k", Some(config(vec![1, 2])))]);
    let b = HashMap::from([("k", Some(config(vec![1, 3])))]);
    let text = summarize_diffs(&a, &b);
    assert!(
        text.starts_with("let obj0_sub = obj0[\"k\"].unwrap().list\n"),
        "{text}"
    );
    let diffs: Vec<_> = iterate_diffs(&a, &b).collect();
    assert_eq!(
        diffs[0].path,
        vec![
            PathStep::Key("\"k\"".into()),
            PathStep::Unwrap,
            PathStep::Field("list".into()),
            PathStep::Index(1)
        ]
    );
    assert_eq!(diffs[0].right, Side::Value("3".into()));
}

#[test]
fn type_differences_keep_their_suffixes() {
    let text = summarize_diffs(&(5u32,), &(5u64,));
    assert!(
        text.contains("obj0_sub.0 == 5u32\nobj1_sub.0 == 5u64"),
        "{text}"
    );
}

#[test]
fn tree_display_and_skipped_markers() {
    let tree = freeze_tree(&Config {
        name: "n".into(),
        list: vec![1],
        cache: Some("x".into()),
    });
    assert_eq!(
        tree.to_string(),
        r#"Config { cache: <skipped>, list: [1i32], name: "n" }"#
    );
    let pretty = format!("{tree:#}");
    assert!(
        pretty.contains("\n    list: [\n        1i32,\n    ],\n"),
        "{pretty}"
    );
}

#[test]
fn tree_digest_equals_hash_over_a_corpus() {
    let corpus: Vec<Box<dyn Freeze>> = vec![
        Box::new(()),
        Box::new(vec![Some(1u8), None]),
        Box::new(HashMap::from([("x", vec![1.5f64]), ("y", vec![])])),
        Box::new(BTreeSet::from([(1u8, 'c'), (2, 'd')])),
        Box::new(config(vec![3, 4])),
        Box::new((
            std::path::PathBuf::from("/a/b"),
            std::time::Duration::from_secs(3),
        )),
        Box::new(Ok::<_, String>(1u128..=9)),
        Box::new(vec![0u8; 10_000]),
        Box::new(
            (0..1000)
                .map(|i| (i, i.to_string()))
                .collect::<HashMap<_, _>>(),
        ),
    ];
    for v in &corpus {
        let tree = freeze_tree(v);
        assert_eq!(tree.digest(), hash(v), "tree of {tree}");
        // A tree also hashes to its own digest under any purpose.
        let key_tree = try_freeze_tree(Purpose::CacheKey, v).unwrap();
        assert_eq!(key_tree.digest(), charm_freeze::hash_cache_key(v));
        let ver_tree = try_freeze_tree(Purpose::CacheVer, v).unwrap();
        assert_eq!(ver_tree.digest(), charm_freeze::hash_cache_ver(v));
    }
}

#[test]
fn trees_compare_structurally() {
    assert_eq!(
        freeze_tree(&HashSet::from([1, 2])),
        freeze_tree(&BTreeSet::from([2, 1]))
    );
    assert!(matches!(freeze_tree(&7u16), Frozen::U16(7)));
}
