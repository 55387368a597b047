//! `cargo run -p charm-examples --example custom_store`
//!
//! An object store of your own: a wrapper that deflate-compresses the
//! values of any other store. Registered under the scheme `deflate+dir`,
//! so `deflate+dir:PATH` wraps a `dir:PATH` store; `?level=0..=10` picks
//! the compression level (6 by default).

use charm::{Memoized, MemoizedGroup, ObjStore, PluginUrl, Result};
use std::error::Error;

/// Compresses every value on its way into `inner`.
#[derive(Debug)]
struct Deflate {
    inner: Box<dyn ObjStore>,
    level: u8,
}

/// A stored value inflates to at most this: a forged one cannot make the
/// process allocate without bound.
const MAX_INFLATED: usize = 1 << 30;

impl ObjStore for Deflate {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match self.inner.get(key)? {
            None => Ok(None),
            Some(packed) => {
                miniz_oxide::inflate::decompress_to_vec_with_limit(&packed, MAX_INFLATED)
                    .map(Some)
                    .map_err(|e| charm::Error::corrupt(key, format!("cannot inflate: {e:?}")))
            }
        }
    }
    fn put(&self, key: &str, value: &[u8]) -> Result<()> {
        self.inner.put(
            key,
            &miniz_oxide::deflate::compress_to_vec(value, self.level),
        )
    }
    fn delete(&self, key: &str) -> Result<bool> {
        self.inner.delete(key)
    }
    fn contains(&self, key: &str) -> Result<bool> {
        self.inner.contains(key)
    }
    fn keys(&self, prefix: &str) -> Result<Vec<String>> {
        self.inner.keys(prefix)
    }
    fn clear(&self) -> Result<()> {
        self.inner.clear()
    }
    fn describe(&self) -> String {
        format!("deflate+{}", self.inner.describe())
    }
    fn local_dir(&self) -> Option<&std::path::Path> {
        self.inner.local_dir()
    }
}

charm::register_plugin!(
    ObjStore,
    "deflate+dir",
    "deflate-compressed files in a directory (an example; ?level=0..=10)",
    |url: &PluginUrl| -> Result<Box<dyn ObjStore>> {
        url.options_known(&["level"])?;
        let level = url.parsed_option::<u8>("level")?.unwrap_or(6);
        if level > 10 {
            return Err(charm::Error::Config(format!(
                "deflate+dir: level {level} is not in 0..=10"
            )));
        }
        Ok(Box::new(Deflate {
            inner: charm::open_store(&format!("dir:{}", url.body()))?,
            level,
        }))
    }
);

fn main() -> std::result::Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("charm-example-deflate-{}", std::process::id()));
    let group = MemoizedGroup::builder()
        .obj_store_url(format!("deflate+dir:{}?level=9", dir.display()))
        .build()?;
    let report: Memoized<String> = Memoized::builder("custom_store::report")
        .group(group.clone())
        .build();
    let text = report.call(&7u32, || "a very repetitive report. ".repeat(2000));
    assert_eq!(report.call(&7u32, || unreachable!()), text);
    let on_disk: u64 = walk(&dir);
    println!(
        "{} bytes of text stored in {} bytes on disk through {}",
        text.len(),
        on_disk,
        group.describe()
    );
    assert!(on_disk < text.len() as u64 / 10);
    drop((report, group));
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

fn walk(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => walk(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

#[cfg(test)]
mod tests {
    #[test]
    fn meets_the_store_contract() {
        let store = charm::open_store("deflate+dir:").err();
        assert!(store.is_some(), "an empty path is refused");
        let wrong = charm::open_store("deflate+dir:/tmp/x?level=11").err();
        assert!(wrong.is_some_and(|e| e.to_string().contains("level 11")));
        let inner = charm::open_store("mem:").unwrap();
        charm_core::testing::obj_store(&super::Deflate { inner, level: 1 });
    }
}
