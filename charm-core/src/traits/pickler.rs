//! `Pickler`: how values become bytes and back.

use crate::{Error, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;

/// The visitor a [`Pickler::loads`] hands its deserializer to.
pub type LoadVisitor<'v> =
    dyn FnMut(&mut dyn erased_serde::Deserializer<'_>) -> Result<(), erased_serde::Error> + 'v;

/// A standard format the engine can write and read itself, without type
/// erasure; see [`Pickler::native_format`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NativeFormat {
    /// postcard 1.x, with no bytes after the value.
    Postcard,
    /// JSON as serde_json writes it.
    Json,
}

/// Serializes cached values; object-safe through `erased-serde`, so picklers
/// are chosen by name at run time.
///
/// # Contract
///
/// - `loads` of the bytes `dumps` produced MUST give back an equal value,
///   in any process, for every type of serde's data model that the format
///   supports; a format that cannot represent a type MUST return an error,
///   never a different value.
/// - `loads` MUST fail (not succeed with garbage) on bytes left over after
///   the value.
/// - Picklers MUST be deterministic in what they accept: the bytes are
///   stored under a key that includes the pickler's name.
///
/// # Errors
///
/// [`Error::Pickle`] with the format's message.
///
/// # Implementing
///
/// ```
/// use charm_core::{Error, LoadVisitor, Pickler, Result};
///
/// /// JSON through serde_json.
/// #[derive(Debug)]
/// struct Json;
///
/// impl Pickler for Json {
///     fn name(&self) -> &str {
///         "doc-json"
///     }
///     fn dumps(&self, value: &dyn erased_serde::Serialize) -> Result<Vec<u8>> {
///         serde_json::to_vec(value).map_err(|e| Error::Pickle {
///             pickler: "doc-json".into(),
///             action: "serialize",
///             message: e.to_string(),
///         })
///     }
///     fn loads(&self, bytes: &[u8], visit: &mut LoadVisitor<'_>) -> Result<()> {
///         let mut de = serde_json::Deserializer::from_slice(bytes);
///         let err = |e: &dyn std::fmt::Display| Error::Pickle {
///             pickler: "doc-json".into(),
///             action: "deserialize",
///             message: e.to_string(),
///         };
///         visit(&mut <dyn erased_serde::Deserializer>::erase(&mut de)).map_err(|e| err(&e))?;
///         de.end().map_err(|e| err(&e))
///     }
/// }
///
/// let p: &dyn Pickler = &Json;
/// let bytes = p.dump(&vec![1u32, 2]).unwrap();
/// assert_eq!(p.load::<Vec<u32>>(&bytes).unwrap(), vec![1, 2]);
/// assert!(p.load::<Vec<u32>>(b"[1, 2] 3").is_err());
/// ```
pub trait Pickler: Send + Sync + fmt::Debug {
    /// The registry name (part of the system state).
    fn name(&self) -> &str;

    /// Serializes a value.
    fn dumps(&self, value: &dyn erased_serde::Serialize) -> Result<Vec<u8>>;

    /// Deserializes `bytes`: hands a deserializer over them to `visit`, then
    /// checks that nothing is left over.
    fn loads(&self, bytes: &[u8], visit: &mut LoadVisitor<'_>) -> Result<()>;

    /// The standard format this pickler writes, if it is one the engine can
    /// drive directly: then typed values skip type erasure, whose dynamic
    /// call per value dominates for large sequences (50 ms instead of 2 ms
    /// for a million-element `Vec`). A pickler that says so MUST write
    /// exactly that format's bytes. The default: none.
    fn native_format(&self) -> Option<NativeFormat> {
        None
    }
}

impl dyn Pickler + '_ {
    fn error(&self, action: &'static str, message: impl ToString) -> Error {
        Error::pickle(self.name(), action, message)
    }

    /// Serializes a typed value (directly when the format is native).
    pub fn dump<T: Serialize>(&self, value: &T) -> Result<Vec<u8>> {
        match self.native_format() {
            Some(NativeFormat::Postcard) => {
                postcard::to_stdvec(value).map_err(|e| self.error("serialize", e))
            }
            Some(NativeFormat::Json) => {
                serde_json::to_vec(value).map_err(|e| self.error("serialize", e))
            }
            None => self.dumps(value),
        }
    }

    /// Deserializes a typed value (directly when the format is native).
    pub fn load<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T> {
        match self.native_format() {
            Some(NativeFormat::Postcard) => {
                let (v, rest) =
                    postcard::take_from_bytes(bytes).map_err(|e| self.error("deserialize", e))?;
                if !rest.is_empty() {
                    let left = format!("{} bytes left over after the value", rest.len());
                    return Err(self.error("deserialize", left));
                }
                return Ok(v);
            }
            Some(NativeFormat::Json) => {
                return serde_json::from_slice(bytes).map_err(|e| self.error("deserialize", e));
            }
            None => {}
        }
        let mut out = None;
        self.loads(bytes, &mut |de| {
            out = Some(erased_serde::deserialize::<T>(de)?);
            Ok(())
        })?;
        out.ok_or_else(|| self.error("deserialize", "the pickler produced no value"))
    }
}
