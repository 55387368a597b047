//! Tests shared by the picklers.

use charm_core::Pickler;
use std::collections::BTreeMap;

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
enum Shape {
    Dot,
    Line(u32, u32),
    Box { w: f64, h: f64 },
}

/// A pickler that declares a native format writes the same bytes by
/// both paths, and each reads what the other wrote.
pub(crate) fn native_and_erased_agree(p: &dyn Pickler) {
    let value = (
        vec![
            Shape::Dot,
            Shape::Line(1, 2),
            Shape::Box { w: 1.5, h: -0.0 },
        ],
        BTreeMap::from([("k".to_owned(), Some(vec![1u8, 2]))]),
        String::from("ünïcode"),
    );
    let native = p.dump(&value).unwrap();
    let erased = p.dumps(&value).unwrap();
    assert_eq!(native, erased);
    type V = (Vec<Shape>, BTreeMap<String, Option<Vec<u8>>>, String);
    assert_eq!(p.load::<V>(&native).unwrap(), value);
    let mut via_erased = None;
    p.loads(&native, &mut |de| {
        via_erased = Some(erased_serde::deserialize::<V>(de)?);
        Ok(())
    })
    .unwrap();
    assert_eq!(via_erased.unwrap(), value);
    let mut extra = native.clone();
    extra.extend_from_slice(b" 7");
    assert!(p.load::<V>(&extra).is_err(), "trailing bytes are an error");
}

#[test]
fn every_pickler_meets_the_contract() {
    for p in [
        &crate::PostcardPickler as &dyn Pickler,
        &crate::JsonPickler,
        &crate::MsgpackPickler,
    ] {
        charm_core::testing::pickler(p);
    }
}
