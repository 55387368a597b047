//! `serde_json::Value`: null is `()`, numbers keep their kind (`1` and
//! `1.0` differ, as under `==`), arrays are sequences and objects are
//! order-free maps.

use crate::{Freeze, Freezer};
use serde_json::{Map, Number, Value};

impl Freeze for Number {
    fn freeze(&self, f: &mut Freezer) {
        if let Some(u) = self.as_u64() {
            f.u64(u)
        } else if let Some(i) = self.as_i64() {
            f.i64(i)
        } else {
            // Without arbitrary precision every other number is an f64.
            f.f64(self.as_f64().unwrap_or(f64::NAN))
        }
    }
}

impl Freeze for Map<String, Value> {
    fn freeze(&self, f: &mut Freezer) {
        f.map(self.len(), |m| self.iter().for_each(|(k, v)| m.entry(k, v)))
    }
    forward_ver!();
}

impl Freeze for Value {
    fn freeze(&self, f: &mut Freezer) {
        match self {
            Value::Null => f.unit(),
            Value::Bool(b) => f.bool(*b),
            Value::Number(n) => f.write(n),
            Value::String(s) => f.str(s),
            Value::Array(items) => f.write(items),
            Value::Object(map) => f.write(map),
        }
    }
    forward_ver!();
}

#[cfg(test)]
mod tests {
    use crate::hash;
    use serde_json::json;

    #[test]
    fn json_values_hash_structurally() {
        assert_eq!(
            hash(&json!({"a": 1, "b": [true, null]})),
            hash(&json!({"b": [true, null], "a": 1}))
        );
        assert_ne!(hash(&json!(1)), hash(&json!(1.0)));
        assert_ne!(hash(&json!(-1)), hash(&json!(1)));
        assert_ne!(
            hash(&json!({"a": 1, "b": 2})),
            hash(&json!({"a": 2, "b": 1}))
        );
        assert_eq!(hash(&json!("x")), hash(&"x"));
    }
}
