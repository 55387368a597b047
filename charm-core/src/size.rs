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
/// (`KiB`, `MiB`, `GiB`, `TiB`, `PiB`, `EiB`, also `Ki`…) are powers of
/// 1024, decimal ones (`kB`/`KB`/`k`, `MB`, `GB`, `TB`, `PB`, `EB`) powers
/// of 1000, `B` or none is bytes; units ignore case, as `bytesize`'s do.
/// Surrounding space and `_` digit separators are allowed. A fraction is
/// exact (`"1.5 KiB"` is 1536), then cut to whole bytes.
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
    let mut cleaned = [0u8; 64];
    let mut len = 0;
    for b in text.bytes().filter(|b| *b != b'_') {
        if len == cleaned.len() {
            return Err(size_error(text, "too long"));
        }
        cleaned[len] = b;
        len += 1;
    }
    bytes_of(cleaned[..len].trim_ascii()).map_err(|why| size_error(text, why))
}

fn size_error(text: &str, why: &str) -> Error {
    Error::Config(format!(
        "cannot read {text:?} as a size ({why}); write a number and an optional unit, \
         like \"100 MiB\", \"2GB\" or \"4096\""
    ))
}

/// [`parse_size`] of trimmed text without separators. A parser of its own,
/// not `bytesize`'s: that one (and the float parsing it calls) was code
/// that every process opening a cache paged in for this alone.
fn bytes_of(text: &[u8]) -> std::result::Result<u64, &'static str> {
    let number_len = text
        .iter()
        .position(|b| !(b.is_ascii_digit() || *b == b'.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(number_len);
    let (whole, fraction) = match number.iter().position(|b| *b == b'.') {
        Some(dot) => (&number[..dot], &number[dot + 1..]),
        None => (number, &number[number.len()..]),
    };
    if whole.is_empty() && fraction.is_empty() || fraction.contains(&b'.') {
        return Err("no number");
    }
    let factor = unit_factor(unit.trim_ascii_start()).ok_or("unknown unit")?;
    // Digits past the 18th of a fraction change the size by less than a
    // byte; the rest is exact in 128 bits.
    let fraction = &fraction[..fraction.len().min(18)];
    let too_big = "more than 16 EiB";
    let mut scaled = 0u128;
    for digit in whole.iter().chain(fraction) {
        scaled = scaled
            .checked_mul(10)
            .map(|s| s + u128::from(digit - b'0'))
            .filter(|s| *s <= u128::from(u64::MAX) * 10u128.pow(18))
            .ok_or(too_big)?;
    }
    let bytes = scaled.checked_mul(u128::from(factor)).ok_or(too_big)?;
    u64::try_from(bytes / 10u128.pow(fraction.len() as u32)).map_err(|_| too_big)
}

/// The bytes in one of `unit` (case ignored), or `None` if it is none of
/// the units [`parse_size`] lists.
fn unit_factor(unit: &[u8]) -> Option<u64> {
    let (prefix, rest) = match unit.split_first() {
        None => return Some(1),
        Some((p, rest)) => (p.to_ascii_lowercase(), rest.to_ascii_lowercase()),
    };
    if prefix == b'b' && rest.is_empty() {
        return Some(1);
    }
    let power = b"kmgtpe".iter().position(|p| *p == prefix)? as u32 + 1;
    match rest.as_slice() {
        b"" | b"b" => Some(1000u64.pow(power)),
        b"i" | b"ib" => Some(1u64 << (10 * power)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_units_bytesize_read() {
        for (text, bytes) in [
            ("0", 0),
            ("4096", 4096),
            ("12 B", 12),
            ("12b", 12),
            ("3k", 3000),
            ("3 KB", 3000),
            ("3kb", 3000),
            ("3 KiB", 3072),
            ("3ki", 3072),
            ("2 MB", 2_000_000),
            ("2 MiB", 2 << 20),
            ("1 GiB", 1 << 30),
            ("1 gb", 1_000_000_000),
            ("5 TiB", 5 << 40),
            ("1 PB", 1_000_000_000_000_000),
            ("15 EiB", 15 << 60),
            ("1.5 KiB", 1536),
            ("0.1 KiB", 102),
            (".5 kB", 500),
            ("5. kB", 5000),
            ("1_000 MiB", 1000 << 20),
            ("  7\tMiB ", 7 << 20),
            ("18446744073709551615", u64::MAX),
            ("1.000000000000000000001 EiB", 1 << 60),
        ] {
            assert_eq!(parse_size(text).unwrap(), bytes, "{text:?}");
        }
    }

    #[test]
    fn refuses_what_is_no_size_with_the_reason() {
        let long = "1".repeat(65);
        for (text, why) in [
            ("", "no number"),
            ("MiB", "no number"),
            (".", "no number"),
            ("1.2.3 MiB", "no number"),
            ("ten MiB", "no number"),
            ("-1 MiB", "no number"),
            ("3 KiBs", "unknown unit"),
            ("3 XB", "unknown unit"),
            ("3 M iB", "unknown unit"),
            ("3 MiB\u{e9}", "unknown unit"),
            ("16 EiB", "more than 16 EiB"),
            ("18446744073709551616", "more than 16 EiB"),
            (
                "99999999999999999999999999999999999999999999",
                "more than 16 EiB",
            ),
            (&long, "too long"),
        ] {
            let message = parse_size(text).unwrap_err().to_string();
            assert!(message.contains(why), "{text:?}: {message}");
            assert!(message.contains("100 MiB"), "{message}");
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
