//! `uuid::Uuid`: a struct holding its canonical hyphenated text.

use crate::{Freeze, Freezer};

impl Freeze for uuid::Uuid {
    fn freeze(&self, f: &mut Freezer) {
        let mut buf = uuid::Uuid::encode_buffer();
        let text: &str = self.hyphenated().encode_lower(&mut buf);
        f.struct_("Uuid", 0, 1, |s| s.field("hyphenated", text));
    }
}

#[cfg(test)]
mod tests {
    use crate::{freeze_tree, hash};

    #[test]
    fn uuids_are_distinct_and_readable() {
        let a = uuid::Uuid::from_u128(1);
        let b = uuid::Uuid::from_u128(2);
        assert_ne!(hash(&a), hash(&b));
        assert_eq!(
            freeze_tree(&a).to_string(),
            r#"Uuid { hyphenated: "00000000-0000-0000-0000-000000000001" }"#
        );
    }
}
