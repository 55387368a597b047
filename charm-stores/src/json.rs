//! `json` — JSON, self-describing.

use charm_core::{Error, LoadVisitor, NativeFormat, Pickler, Result};

/// JSON through serde_json: larger and slower than postcard, but
/// self-describing, so it handles `serde_json::Value` and untagged enums.
///
/// ```
/// use charm_core::Pickler;
/// let p: &dyn Pickler = &charm_stores::JsonPickler;
/// let v = serde_json::json!({"a": [1, 2]});
/// let bytes = p.dump(&v).unwrap();
/// assert_eq!(p.load::<serde_json::Value>(&bytes).unwrap(), v);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonPickler;

fn err(action: &'static str, message: impl ToString) -> Error {
    Error::Pickle {
        pickler: "json".into(),
        action,
        message: message.to_string(),
    }
}

impl Pickler for JsonPickler {
    fn name(&self) -> &str {
        "json"
    }

    fn dumps(&self, value: &dyn erased_serde::Serialize) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::new(&mut out);
        value
            .erased_serialize(&mut <dyn erased_serde::Serializer>::erase(&mut ser))
            .map_err(|e| err("serialize", e))?;
        Ok(out)
    }

    fn native_format(&self) -> Option<NativeFormat> {
        Some(NativeFormat::Json)
    }

    fn loads(&self, bytes: &[u8], visit: &mut LoadVisitor<'_>) -> Result<()> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        visit(&mut <dyn erased_serde::Deserializer>::erase(&mut de))
            .map_err(|e| err("deserialize", e))?;
        de.end().map_err(|e| err("deserialize", e))
    }
}

charm_core::register_pickler!("json", "JSON (serde_json); self-describing", || JsonPickler);

#[cfg(test)]
mod tests {
    use charm_core::Pickler;
    use std::collections::BTreeMap;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    enum Shape {
        Dot,
        Line(u32, u32),
        Box { w: f64, h: f64 },
    }

    #[test]
    fn native_and_erased_paths_write_the_same_bytes() {
        let p: &dyn Pickler = &super::JsonPickler;
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
}
