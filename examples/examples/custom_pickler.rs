//! `cargo run -p charm-examples --example custom_pickler`
//!
//! A pickler of your own: indented JSON, so cached values can be read
//! with a text editor while debugging. Registered as `pretty-json` and
//! chosen per function with `Memoized::builder(..).pickler("pretty-json")`
//! (or `#[charm::memoize(pickler = "pretty-json")]`).

use charm::{Error, LoadVisitor, Memoized, MemoizedGroup, Pickler, Result};

/// JSON, indented.
#[derive(Debug)]
struct PrettyJson;

impl Pickler for PrettyJson {
    fn name(&self) -> &str {
        "pretty-json"
    }
    fn dumps(&self, value: &dyn erased_serde::Serialize) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::pretty(&mut out);
        value
            .erased_serialize(&mut <dyn erased_serde::Serializer>::erase(&mut ser))
            .map_err(|e| Error::pickle("pretty-json", "serialize", e))?;
        Ok(out)
    }
    fn loads(&self, bytes: &[u8], visit: &mut LoadVisitor<'_>) -> Result<()> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        visit(&mut <dyn erased_serde::Deserializer>::erase(&mut de))
            .map_err(|e| Error::pickle("pretty-json", "deserialize", e))?;
        de.end()
            .map_err(|e| Error::pickle("pretty-json", "deserialize", e))
    }
}

charm::register_plugin!(
    Pickler,
    "pretty-json",
    "indented JSON, readable on disk (an example)",
    new || PrettyJson
);

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Summary {
    mean: f64,
    count: usize,
}

fn main() -> Result<()> {
    let group = MemoizedGroup::builder().temporary(true).build()?;
    let summarize: Memoized<Summary> = Memoized::builder("custom_pickler::summarize")
        .pickler("pretty-json")
        .group(group.clone())
        .build();
    let data = vec![1.0, 2.0, 6.0];
    let s = summarize.call(&data, || Summary {
        mean: 3.0,
        count: data.len(),
    });
    assert_eq!(summarize.call(&data, || unreachable!()), s);
    println!("cached {s:?} as indented JSON in {}", group.describe());
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn meets_the_pickler_contract() {
        charm_core::testing::pickler(&super::PrettyJson);
    }
}
