//! `postcard` — the default pickler: compact binary.

use charm_core::{Error, LoadVisitor, NativeFormat, Pickler, Result};

/// Compact binary serialization with postcard (the default).
///
/// Not self-describing: types that need `deserialize_any`
/// (`serde_json::Value`, untagged or internally tagged enums) cannot be
/// loaded; use the `json` pickler for them.
///
/// ```
/// use charm_core::Pickler;
/// let p: &dyn Pickler = &charm_stores::PostcardPickler;
/// let bytes = p.dump(&("a", 1u8)).unwrap();
/// assert_eq!(p.load::<(String, u8)>(&bytes).unwrap(), ("a".to_owned(), 1));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct PostcardPickler;

fn err(action: &'static str, message: impl ToString) -> Error {
    Error::pickle("postcard", action, message)
}

impl Pickler for PostcardPickler {
    fn name(&self) -> &str {
        "postcard"
    }

    fn dumps(&self, value: &dyn erased_serde::Serialize) -> Result<Vec<u8>> {
        let mut ser = postcard::Serializer {
            output: postcard::ser_flavors::StdVec::new(),
        };
        value
            .erased_serialize(&mut <dyn erased_serde::Serializer>::erase(&mut ser))
            .map_err(|e| err("serialize", e))?;
        use postcard::ser_flavors::Flavor;
        ser.output.finalize().map_err(|e| err("serialize", e))
    }

    fn native_format(&self) -> Option<NativeFormat> {
        Some(NativeFormat::Postcard)
    }

    fn loads(&self, bytes: &[u8], visit: &mut LoadVisitor<'_>) -> Result<()> {
        let mut de = postcard::Deserializer::from_bytes(bytes);
        visit(&mut <dyn erased_serde::Deserializer>::erase(&mut de))
            .map_err(|e| err("deserialize", e))?;
        let rest = de.finalize().map_err(|e| err("deserialize", e))?;
        if !rest.is_empty() {
            return Err(err(
                "deserialize",
                format!("{} bytes left over after the value", rest.len()),
            ));
        }
        Ok(())
    }
}

charm_core::register_plugin!(
    Pickler,
    "postcard",
    "compact binary (postcard); the default",
    new || PostcardPickler
);

#[cfg(test)]
mod tests {
    #[test]
    fn native_and_erased_paths_write_the_same_bytes() {
        crate::pickler_tests::native_and_erased_agree(&super::PostcardPickler);
    }
}
