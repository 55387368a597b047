//! `msgpack` — MessagePack.

use charm_core::{Error, LoadVisitor, Pickler, Result};

/// MessagePack through rmp-serde: compact and self-describing (it handles
/// `serde_json::Value` and untagged enums, unlike postcard). Structs are
/// written as arrays, as rmp-serde does by default.
///
/// ```
/// use charm_core::Pickler;
/// let p: &dyn Pickler = &charm_stores::MsgpackPickler;
/// let bytes = p.dump(&vec![Some(1u8), None]).unwrap();
/// assert_eq!(p.load::<Vec<Option<u8>>>(&bytes).unwrap(), vec![Some(1), None]);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct MsgpackPickler;

fn err(action: &'static str, message: impl ToString) -> Error {
    Error::pickle("msgpack", action, message)
}

impl Pickler for MsgpackPickler {
    fn name(&self) -> &str {
        "msgpack"
    }

    fn dumps(&self, value: &dyn erased_serde::Serialize) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut ser = rmp_serde::Serializer::new(&mut out);
        value
            .erased_serialize(&mut <dyn erased_serde::Serializer>::erase(&mut ser))
            .map_err(|e| err("serialize", e))?;
        Ok(out)
    }

    fn loads(&self, bytes: &[u8], visit: &mut LoadVisitor<'_>) -> Result<()> {
        let mut de = rmp_serde::Deserializer::new(std::io::Cursor::new(bytes));
        visit(&mut <dyn erased_serde::Deserializer>::erase(&mut de))
            .map_err(|e| err("deserialize", e))?;
        let left = bytes.len() as u64 - de.get_ref().position();
        if left != 0 {
            return Err(err(
                "deserialize",
                format!("{left} bytes left over after the value"),
            ));
        }
        Ok(())
    }
}

charm_core::register_plugin!(
    Pickler,
    "msgpack",
    "MessagePack (rmp-serde); compact and self-describing",
    new || MsgpackPickler
);

#[cfg(test)]
mod tests {
    use charm_core::Pickler;

    #[test]
    fn round_trips_and_rejects_leftovers() {
        let p: &dyn Pickler = &super::MsgpackPickler;
        let v = serde_json::json!({"a": [1, 2.5, null], "b": "text"});
        let bytes = p.dump(&v).unwrap();
        assert_eq!(p.load::<serde_json::Value>(&bytes).unwrap(), v);
        let mut extra = bytes.clone();
        extra.push(0x01);
        assert!(p.load::<serde_json::Value>(&extra).is_err());
    }
}
