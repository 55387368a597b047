//! The pickler suite.

use crate::Pickler;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct UnitStruct;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Newtype(u16);

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct TupleStruct(i8, String);

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Shapes {
    Unit,
    Newtype(u64),
    Tuple(bool, char),
    Struct { x: f32, y: Option<f64> },
}

/// Every shape of serde's data model, in one value.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Model {
    b: bool,
    ints: (i8, i16, i32, i64, i128, u8, u16, u32, u64, u128),
    floats: (f32, f64),
    c: char,
    s: String,
    #[serde(with = "serde_bytes")]
    bytes: Vec<u8>,
    none: Option<u8>,
    some: Option<String>,
    unit: (),
    unit_struct: UnitStruct,
    newtype: Newtype,
    tuple_struct: TupleStruct,
    variants: Vec<Shapes>,
    seq: Vec<Vec<u8>>,
    map: BTreeMap<String, i32>,
}

/// The [`Pickler`] contract: every shape of serde's data
/// model round-trips, through the typed and the erased paths, and bytes
/// left over after a value are an error.
pub fn pickler(p: &dyn Pickler) {
    let model = Model {
        b: true,
        ints: (
            -1,
            -300,
            -70_000,
            i64::MIN,
            i128::MAX,
            255,
            65_535,
            u32::MAX,
            u64::MAX,
            u128::MAX,
        ),
        floats: (1.5, -0.0),
        c: 'ß',
        s: "text\u{0}with nul".into(),
        bytes: vec![0, 255, 7],
        none: None,
        some: Some(String::new()),
        unit: (),
        unit_struct: UnitStruct,
        newtype: Newtype(9),
        tuple_struct: TupleStruct(-5, "t".into()),
        variants: vec![
            Shapes::Unit,
            Shapes::Newtype(1),
            Shapes::Tuple(false, 'x'),
            Shapes::Struct { x: 0.25, y: None },
        ],
        seq: vec![vec![], vec![1, 2]],
        map: BTreeMap::from([("a".into(), 1), ("b".into(), -2)]),
    };
    let bytes = p.dump(&model).expect("dump");
    assert_eq!(
        p.load::<Model>(&bytes).expect("load"),
        model,
        "a typed round trip"
    );
    let erased = p.dumps(&model).expect("dumps");
    let mut back = None;
    p.loads(&erased, &mut |de| {
        back = Some(erased_serde::deserialize::<Model>(de)?);
        Ok(())
    })
    .expect("loads");
    assert_eq!(back, Some(model), "an erased round trip");
    let mut extra = bytes;
    extra.extend_from_slice(&[0, 1, 2]);
    assert!(
        p.load::<Model>(&extra).is_err(),
        "bytes left over after the value are an error"
    );
}
