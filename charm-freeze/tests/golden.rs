//! Digests that must never change: a change here is a semver-major break of
//! every persisted cache. Never edit an expected value; add new rows instead.

use charm_freeze::{hash, Digest, Freeze};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

#[derive(Freeze)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(Freeze)]
enum Shape {
    Circle { r: u32 },
    Square(u32),
    Empty,
}

fn rows() -> Vec<(&'static str, Digest)> {
    vec![
        ("()", hash(&())),
        ("42u32", hash(&42u32)),
        ("\"hello\"", hash(&"hello")),
        ("true", hash(&true)),
        ("0u8", hash(&0u8)),
        ("-1i64", hash(&-1i64)),
        ("u128::MAX", hash(&u128::MAX)),
        ("1.5f64", hash(&1.5f64)),
        ("NaN f32", hash(&f32::NAN)),
        ("'é'", hash(&'é')),
        ("b\"\\x00\"", hash(&b"\x00"[..])),
        ("vec![1u16,2,3]", hash(&vec![1u16, 2, 3])),
        ("(1u8, \"a\")", hash(&(1u8, "a"))),
        ("Some(())", hash(&Some(()))),
        ("None::<u8>", hash(&None::<u8>)),
        ("Ok::<u8,u8>(1)", hash(&Ok::<u8, u8>(1))),
        ("{a:1,b:2}", hash(&HashMap::from([("a", 1u8), ("b", 2)]))),
        ("{1,2,3}", hash(&HashSet::from([1u32, 2, 3]))),
        ("BTreeMap{}", hash(&BTreeMap::<u8, u8>::new())),
        ("BTreeSet{\"x\"}", hash(&BTreeSet::from(["x"]))),
        ("Point{1,2}", hash(&Point { x: 1, y: 2 })),
        ("Circle{r:3}", hash(&Shape::Circle { r: 3 })),
        ("Square(3)", hash(&Shape::Square(3))),
        ("Empty", hash(&Shape::Empty)),
        ("/tmp/a.txt", hash(&PathBuf::from("/tmp/a.txt"))),
        ("1.5s", hash(&Duration::from_millis(1500))),
        ("epoch+1s", hash(&(UNIX_EPOCH + Duration::from_secs(1)))),
        ("1..3", hash(&(1u8..3))),
        ("Ordering::Less", hash(&std::cmp::Ordering::Less)),
    ]
}

const EXPECTED: &[(&str, &str)] = &[
    (
        "()",
        "91bc77a523b28e47f9830550d9c09f0b351e89524640b1f23364763a067bae37",
    ),
    (
        "42u32",
        "d8aad2252cb91712804b0b72dc31d24697d6cf654f0f4b45000624b746e17a53",
    ),
    (
        "\"hello\"",
        "c125574e992056efea176c4cdc00b02069fc9b7316b9b2ea110789577fa6c639",
    ),
    (
        "true",
        "923f02c603413e05abd09f06bec4d14e70f9c13e80029b0dcfc849abbd8506f6",
    ),
    (
        "0u8",
        "b7bfab66fee27610e886d771daedcf682b6db615e8cebcb3893f0d3a6efb733a",
    ),
    (
        "-1i64",
        "0db71a4ffa695f4bc145c4ed0137bf57b6747a4012971b02cd50abe7ae58c456",
    ),
    (
        "u128::MAX",
        "aad5bc7b6762686c19dbcb9b634a7ea1f064bd92b87eb40976ab5d0178c5195e",
    ),
    (
        "1.5f64",
        "b2368f190deb2d7847dd77e31c4181bf7124fc8373180f8b473507f73aff397c",
    ),
    (
        "NaN f32",
        "9d17082bbfee20f56b62e3f0d0eea1c26a444a491e2ebfdfd0c50417d37badc0",
    ),
    (
        "'é'",
        "bde445e51401fd9d2c694621d56d4de0af189ec05b1737ead3be8a86e699fc03",
    ),
    (
        "b\"\\x00\"",
        "d526e5cd1f5a9bdcf1d79a36259d669b362df28f07e98a238fc7780b0bd86368",
    ),
    (
        "vec![1u16,2,3]",
        "3e7016f48f9d80df552bcd7df18ef4f9c42025f10b15020fe2c087963772969d",
    ),
    (
        "(1u8, \"a\")",
        "b10747211ba841bbfcdf84a31037bc467095add0c026cf4efa9e6b5db100178b",
    ),
    (
        "Some(())",
        "4ef35854d4649211f59b1663692a676a8d04dbc06ef63371d55eb0b4ee317a2a",
    ),
    (
        "None::<u8>",
        "2b48853a9c9a8b36dd1119f48cd297bf6ee98fdf33ff4355ce41d3ec688d62ac",
    ),
    (
        "Ok::<u8,u8>(1)",
        "8b89a696fd68b1cc3a9be06e0e18759376269d225bc269ce16115fd3a07cf4c3",
    ),
    (
        "{a:1,b:2}",
        "717262f4acecf8d8215f04c3d4e0fd470148c0ba52efc35caa3613d5b71fed8d",
    ),
    (
        "{1,2,3}",
        "954040f8e4bbb9817c91bfb46b773ed0684a9258d0e2f5c6ebef84503fe9d30f",
    ),
    (
        "BTreeMap{}",
        "b6a7d9447538a9b9b8ab7d1e21b273913e6e81f16f6578ab4fab5b2432c595c6",
    ),
    (
        "BTreeSet{\"x\"}",
        "b38b82315d16e40e9f287e5172f53e0232071a91d1aa8c51c0fb45be5741f2cf",
    ),
    (
        "Point{1,2}",
        "15ad04bf4e03eaeca07d96eeba9f600da510fcc172f468a179dd380b31b55d77",
    ),
    (
        "Circle{r:3}",
        "c2dca0d0635ae9eed22f8a56f6b7a40a38b5661069634236b538e434cb3aea3c",
    ),
    (
        "Square(3)",
        "2c2c98adc983b9c9293c35b78574cca430794cee17ce7536666969669b73af0d",
    ),
    (
        "Empty",
        "d0d3b70a3b4eff1d1e59aeb723799aa64ff0851d1bc397d4e789d017ca78b261",
    ),
    (
        "/tmp/a.txt",
        "7fae3ab132990fa92b700a0ebdf22fbceb684c8432e4134ca785017b3e240ab0",
    ),
    (
        "1.5s",
        "a84e79720b579991135e5d8fae8716a1376616a0bf55488f7e46ba5fd0690573",
    ),
    (
        "epoch+1s",
        "85828dd3acdfdc23a11701842b5e157573b0dac3c91839c1691e2e60d9b78b11",
    ),
    (
        "1..3",
        "32538edd401ece49633fc07b310d38614c2d0051f988db4cc0457896230d77cf",
    ),
    (
        "Ordering::Less",
        "0fca8ffcc60e482e445fe7861057ea283bffb9ed04db1eb546db770516fe29d0",
    ),
];

#[test]
fn sanity_values_from_the_spec() {
    assert_eq!(
        hash(&()).to_string(),
        "91bc77a523b28e47f9830550d9c09f0b351e89524640b1f23364763a067bae37"
    );
    assert_eq!(
        hash(&42u32).to_string(),
        "d8aad2252cb91712804b0b72dc31d24697d6cf654f0f4b45000624b746e17a53"
    );
    assert_eq!(
        hash(&"hello").to_string(),
        "c125574e992056efea176c4cdc00b02069fc9b7316b9b2ea110789577fa6c639"
    );
}

#[test]
fn golden_digests_never_change() {
    let rows = rows();
    assert_eq!(rows.len(), EXPECTED.len());
    for ((name, d), (ename, expected)) in rows.iter().zip(EXPECTED) {
        assert_eq!(name, ename);
        assert_eq!(&d.to_string(), expected, "digest of {name} changed");
    }
}

/// The same digests computed from hand-written byte streams that follow the
/// encoding table of FREEZE.md, independently of the Freezer.
mod by_hand {
    use super::*;

    fn digest_of(stream: &[u8]) -> Digest {
        let mut h = blake3::Hasher::new_derive_key("charm-freeze 2025-06-01 frozen-value v1");
        h.update(stream);
        Digest::from_bytes(*h.finalize().as_bytes())
    }

    fn lp(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend((bytes.len() as u64).to_le_bytes());
        out.extend(bytes);
    }

    #[test]
    fn scalars_and_strings() {
        assert_eq!(hash(&42u32), digest_of(&[0x05, 0x2a, 0, 0, 0]));
        let mut s = vec![0x10];
        lp(&mut s, b"hello");
        assert_eq!(hash(&"hello"), digest_of(&s));
        let mut nan = vec![0x0D];
        nan.extend(0x7fc0_0000u32.to_le_bytes());
        assert_eq!(hash(&-f32::NAN), digest_of(&nan));
        assert_eq!(hash(&usize::MAX), hash(&u64::MAX));
    }

    #[test]
    fn tuple_and_option() {
        // (1u8, "a"): 13 arity, 03 01, 10 lp("a")
        let mut s = vec![0x13];
        s.extend(2u64.to_le_bytes());
        s.extend([0x03, 0x01, 0x10]);
        lp(&mut s, b"a");
        assert_eq!(hash(&(1u8, "a")), digest_of(&s));
        assert_eq!(hash(&Some(())), digest_of(&[0x14, 0x01, 0x01]));
        assert_eq!(hash(&None::<u8>), digest_of(&[0x14, 0x00]));
    }

    #[test]
    fn derived_struct_sorts_fields_by_name() {
        // 16 lp("Point") u32 version, u64 count, (lp(name) value)*
        let mut s = vec![0x16];
        lp(&mut s, b"Point");
        s.extend(0u32.to_le_bytes());
        s.extend(2u64.to_le_bytes());
        lp(&mut s, b"x");
        s.push(0x0A);
        s.extend(1i32.to_le_bytes());
        lp(&mut s, b"y");
        s.push(0x0A);
        s.extend(2i32.to_le_bytes());
        assert_eq!(hash(&Point { x: 1, y: 2 }), digest_of(&s));
    }

    #[test]
    fn enum_variant_by_name() {
        let mut s = vec![0x17];
        lp(&mut s, b"Shape");
        s.extend(0u32.to_le_bytes());
        lp(&mut s, b"Square");
        s.extend(1u64.to_le_bytes());
        lp(&mut s, b"0");
        s.push(0x05);
        s.extend(3u32.to_le_bytes());
        assert_eq!(hash(&Shape::Square(3)), digest_of(&s));
    }

    #[test]
    fn map_hashes_sorted_pair_digests() {
        let pair = |k: &str, v: u8| {
            let mut s = vec![0x13];
            s.extend(2u64.to_le_bytes());
            s.push(0x10);
            lp(&mut s, k.as_bytes());
            s.extend([0x03, v]);
            digest_of(&s)
        };
        let mut digests = vec![pair("a", 1), pair("b", 2)];
        digests.sort();
        let mut s = vec![0x19];
        s.extend(2u64.to_le_bytes());
        for d in &digests {
            s.extend(d.as_bytes());
        }
        assert_eq!(hash(&HashMap::from([("b", 2u8), ("a", 1)])), digest_of(&s));
    }

    #[test]
    fn path_by_components() {
        // 1A count, root (01), normal (04 + os-str 1B 00 lp(utf8))...
        let mut s = vec![0x1A];
        s.extend(3u64.to_le_bytes());
        s.push(0x01);
        for part in ["tmp", "a.txt"] {
            s.extend([0x04, 0x1B, 0x00]);
            lp(&mut s, part.as_bytes());
        }
        assert_eq!(hash(&PathBuf::from("/tmp/a.txt")), digest_of(&s));
    }
}
