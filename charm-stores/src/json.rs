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
    Error::pickle("json", action, message)
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

charm_core::register_plugin!(
    Pickler,
    "json",
    "JSON (serde_json); self-describing",
    new || JsonPickler
);

#[cfg(test)]
mod tests {
    #[test]
    fn native_and_erased_paths_write_the_same_bytes() {
        crate::pickler_tests::native_and_erased_agree(&super::JsonPickler);
    }
}
