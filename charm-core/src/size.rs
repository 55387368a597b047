//! Byte sizes: `"100 MiB"`, `1_000_000`, `ByteSize`.

use crate::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// A number of bytes, parsed from text like `"100 MiB"`, `"1.5GB"`, `"512"`.
///
/// Binary units (`KiB`, `MiB`, `GiB`, `TiB`) are powers of 1024, decimal
/// ones (`kB`/`KB`, `MB`, `GB`, `TB`) powers of 1000; `B` or no unit is bytes.
///
/// ```
/// use charm_core::ByteSize;
/// assert_eq!("100 MiB".parse::<ByteSize>().unwrap(), ByteSize(100 << 20));
/// assert_eq!("1.5kB".parse::<ByteSize>().unwrap(), ByteSize(1500));
/// assert_eq!(ByteSize(3 << 30).to_string(), "3 GiB");
/// assert!("ten MiB".parse::<ByteSize>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// The number of bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl From<u64> for ByteSize {
    fn from(v: u64) -> Self {
        ByteSize(v)
    }
}

impl FromStr for ByteSize {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let bad = || {
            Error::Config(format!(
                "cannot read {text:?} as a size; write a number and an optional unit, like \
                 \"100 MiB\", \"2GB\" or \"4096\""
            ))
        };
        let t = text.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
            .unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let number: f64 = number.replace('_', "").parse().map_err(|_| bad())?;
        let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" => 1000,
            "kib" => 1 << 10,
            "m" | "mb" => 1_000_000,
            "mib" => 1 << 20,
            "g" | "gb" => 1_000_000_000,
            "gib" => 1 << 30,
            "t" | "tb" => 1_000_000_000_000,
            "tib" => 1 << 40,
            _ => return Err(bad()),
        };
        let bytes = number * scale as f64;
        if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
            return Err(bad());
        }
        Ok(ByteSize(bytes.round() as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let mut value = self.0 as f64;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        if value.fract() == 0.0 {
            write!(f, "{} {}", value as u64, UNITS[unit])
        } else {
            write!(f, "{:.1} {}", value, UNITS[unit])
        }
    }
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
            SizeArg::Text(t) => Ok(t.parse::<ByteSize>()?.0),
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
        SizeArg::Bytes(v.0)
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
