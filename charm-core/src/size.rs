//! Byte sizes: `"100 MiB"`, `1_000_000`, [`ByteSize`] (the `bytesize`
//! crate's, re-exported).

use crate::{Error, Result};

/// A number of bytes: the [`bytesize`] crate's type, re-exported so that
/// `.size(ByteSize::mib(100))` needs no dependency of your own.
///
/// ```
/// use charm_core::ByteSize;
/// assert_eq!(ByteSize::mib(100).as_u64(), 100 << 20);
/// assert_eq!(ByteSize(3 << 30).to_string(), "3.0 GiB");
/// ```
pub use bytesize::ByteSize;

/// Reads a size written as a number and an optional unit: binary units
/// (`KiB`, `MiB`, `GiB`, `TiB`, also `Ki`…) are powers of 1024, decimal
/// ones (`kB`/`KB`/`k`, `MB`, `GB`, `TB`) powers of 1000, `B` or none is
/// bytes. Surrounding space and `_` digit separators are allowed, as they
/// were before charm used `bytesize`.
///
/// ```
/// use charm_core::parse_size;
/// assert_eq!(parse_size("100 MiB").unwrap(), 100 << 20);
/// assert_eq!(parse_size("1.5kB").unwrap(), 1500);
/// assert_eq!(parse_size(" 1_000_000 ").unwrap(), 1_000_000);
/// assert!(parse_size("ten MiB").is_err());
/// ```
///
/// # Errors
///
/// [`Error::Config`] saying what is wrong and how to write a size.
pub fn parse_size(text: &str) -> Result<u64> {
    let cleaned: String = text.trim().chars().filter(|c| *c != '_').collect();
    cleaned
        .parse::<ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|why| {
            Error::Config(format!(
                "cannot read {text:?} as a size ({why}); write a number and an optional unit, \
                 like \"100 MiB\", \"2GB\" or \"4096\""
            ))
        })
}

/// A size as given to a builder: bytes, text to parse, or a [`ByteSize`].
/// Text is parsed (and rejected with a clear error) in `build()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SizeArg {
    /// A number of bytes.
    Bytes(u64),
    /// Text such as `"100 MiB"`.
    Text(String),
}

impl SizeArg {
    pub(crate) fn resolve(&self) -> Result<u64> {
        match self {
            SizeArg::Bytes(b) => Ok(*b),
            SizeArg::Text(t) => parse_size(t),
        }
    }
}

impl From<u64> for SizeArg {
    fn from(v: u64) -> Self {
        SizeArg::Bytes(v)
    }
}

impl From<ByteSize> for SizeArg {
    fn from(v: ByteSize) -> Self {
        SizeArg::Bytes(v.as_u64())
    }
}

impl From<&str> for SizeArg {
    fn from(v: &str) -> Self {
        SizeArg::Text(v.to_owned())
    }
}

impl From<String> for SizeArg {
    fn from(v: String) -> Self {
        SizeArg::Text(v)
    }
}
