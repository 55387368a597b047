//! `Serde<T>`: freeze any `serde::Serialize` value.

use crate::{Freeze, FreezeError, Freezer, Frozen, DEFAULT_RECURSION_LIMIT};
use serde::ser::{self, Serialize};

/// Freezes any `Serialize` value through its serde data model.
///
/// Structs and enum variants freeze as they would with `#[derive(Freeze)]`
/// (fields by name, so their order does not matter; newtype and tuple
/// fields named `"0"`, `"1"`, …), maps are order-free. Sequences keep the
/// order serde gives them — so a `HashSet` serialized through serde is
/// **order-dependent**: prefer a native `Freeze` impl for such types.
/// The value is first turned into a [`Frozen`] tree, so this costs an
/// allocation per node; types on a hot path deserve a native impl.
///
/// ```
/// use charm_freeze::{hash, Serde};
/// #[derive(serde::Serialize)]
/// struct Config { threads: u32, name: String }
/// let a = Config { threads: 4, name: "x".into() };
/// let b = Config { threads: 5, name: "x".into() };
/// assert_ne!(hash(&Serde(&a)), hash(&Serde(&b)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Serde<T>(pub T);

impl<T: Serialize> Freeze for Serde<T> {
    fn freeze(&self, f: &mut Freezer) {
        match self.0.serialize(TreeSerializer { depth: 0 }) {
            Ok(tree) => f.write(&tree),
            Err(e) => f.fail(e.0),
        }
    }
}

#[derive(Debug)]
struct Error(FreezeError);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<M: std::fmt::Display>(msg: M) -> Self {
        Error(FreezeError::Serialize(msg.to_string()))
    }
}

#[derive(Clone, Copy)]
struct TreeSerializer {
    depth: u32,
}

impl TreeSerializer {
    fn nested(self) -> Result<TreeSerializer, Error> {
        if self.depth >= DEFAULT_RECURSION_LIMIT {
            return Err(Error(FreezeError::RecursionLimit {
                limit: DEFAULT_RECURSION_LIMIT,
            }));
        }
        Ok(TreeSerializer {
            depth: self.depth + 1,
        })
    }

    fn tree<T: Serialize + ?Sized>(self, v: &T) -> Result<Frozen, Error> {
        v.serialize(self.nested()?)
    }
}

/// Collects the children of a compound value.
struct Compound {
    ser: TreeSerializer,
    kind: Kind,
    items: Vec<Frozen>,
    names: Vec<String>,
    skipped: Vec<String>,
    pending_key: Option<Frozen>,
}

enum Kind {
    Seq,
    Tuple,
    Map,
    Struct(String),
    Variant(String, String),
}

impl Compound {
    fn new(ser: TreeSerializer, kind: Kind, cap: Option<usize>) -> Result<Self, Error> {
        Ok(Compound {
            ser: ser.nested()?,
            kind,
            items: Vec::with_capacity(cap.unwrap_or(0).min(4096)),
            names: Vec::new(),
            skipped: Vec::new(),
            pending_key: None,
        })
    }

    fn push<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.items.push(self.ser.tree(v)?);
        Ok(())
    }

    fn named<T: Serialize + ?Sized>(&mut self, name: String, v: &T) -> Result<(), Error> {
        self.names.push(name);
        self.push(v)
    }

    fn positional<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let name = self.items.len().to_string();
        self.named(name, v)
    }

    fn finish(self) -> Result<Frozen, Error> {
        let Compound {
            kind,
            items,
            names,
            skipped,
            ..
        } = self;
        let sorted = |items: Vec<Frozen>| {
            let mut fields: Vec<(String, Frozen)> = names.into_iter().zip(items).collect();
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            fields
        };
        Ok(match kind {
            Kind::Seq => Frozen::Seq(items),
            Kind::Tuple => Frozen::Tuple(items),
            Kind::Map => Frozen::Map(items),
            Kind::Struct(name) => Frozen::Struct {
                name,
                version: 0,
                fields: sorted(items),
                skipped,
            },
            Kind::Variant(enum_name, variant) => Frozen::Variant {
                enum_name,
                version: 0,
                variant,
                fields: sorted(items),
                skipped,
            },
        })
    }
}

fn structure(name: &str, fields: Vec<(String, Frozen)>) -> Frozen {
    Frozen::Struct {
        name: name.to_owned(),
        version: 0,
        fields,
        skipped: Vec::new(),
    }
}

fn variant(name: &str, variant: &str, fields: Vec<(String, Frozen)>) -> Frozen {
    Frozen::Variant {
        enum_name: name.to_owned(),
        version: 0,
        variant: variant.to_owned(),
        fields,
        skipped: Vec::new(),
    }
}

impl ser::Serializer for TreeSerializer {
    type Ok = Frozen;
    type Error = Error;
    type SerializeSeq = Compound;
    type SerializeTuple = Compound;
    type SerializeTupleStruct = Compound;
    type SerializeTupleVariant = Compound;
    type SerializeMap = Compound;
    type SerializeStruct = Compound;
    type SerializeStructVariant = Compound;

    fn serialize_bool(self, v: bool) -> Result<Frozen, Error> {
        Ok(Frozen::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Frozen, Error> {
        Ok(Frozen::I8(v))
    }
    fn serialize_i16(self, v: i16) -> Result<Frozen, Error> {
        Ok(Frozen::I16(v))
    }
    fn serialize_i32(self, v: i32) -> Result<Frozen, Error> {
        Ok(Frozen::I32(v))
    }
    fn serialize_i64(self, v: i64) -> Result<Frozen, Error> {
        Ok(Frozen::I64(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Frozen, Error> {
        Ok(Frozen::I128(v))
    }
    fn serialize_u8(self, v: u8) -> Result<Frozen, Error> {
        Ok(Frozen::U8(v))
    }
    fn serialize_u16(self, v: u16) -> Result<Frozen, Error> {
        Ok(Frozen::U16(v))
    }
    fn serialize_u32(self, v: u32) -> Result<Frozen, Error> {
        Ok(Frozen::U32(v))
    }
    fn serialize_u64(self, v: u64) -> Result<Frozen, Error> {
        Ok(Frozen::U64(v))
    }
    fn serialize_u128(self, v: u128) -> Result<Frozen, Error> {
        Ok(Frozen::U128(v))
    }
    fn serialize_f32(self, v: f32) -> Result<Frozen, Error> {
        Ok(Frozen::F32 { bits: v.to_bits() })
    }
    fn serialize_f64(self, v: f64) -> Result<Frozen, Error> {
        Ok(Frozen::F64 { bits: v.to_bits() })
    }
    fn serialize_char(self, v: char) -> Result<Frozen, Error> {
        Ok(Frozen::Char(v))
    }
    fn serialize_str(self, v: &str) -> Result<Frozen, Error> {
        Ok(Frozen::Str(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Frozen, Error> {
        Ok(Frozen::Bytes(v.to_owned()))
    }
    fn serialize_none(self) -> Result<Frozen, Error> {
        Ok(Frozen::Option(None))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Frozen, Error> {
        Ok(Frozen::Option(Some(Box::new(self.tree(v)?))))
    }
    fn serialize_unit(self) -> Result<Frozen, Error> {
        Ok(Frozen::Unit)
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<Frozen, Error> {
        Ok(structure(name, Vec::new()))
    }
    fn serialize_unit_variant(
        self,
        name: &'static str,
        _index: u32,
        v: &'static str,
    ) -> Result<Frozen, Error> {
        Ok(variant(name, v, Vec::new()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<Frozen, Error> {
        Ok(structure(name, vec![("0".into(), self.tree(v)?)]))
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        _index: u32,
        var: &'static str,
        v: &T,
    ) -> Result<Frozen, Error> {
        Ok(variant(name, var, vec![("0".into(), self.tree(v)?)]))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound, Error> {
        Compound::new(self, Kind::Seq, len)
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound, Error> {
        Compound::new(self, Kind::Tuple, Some(len))
    }
    fn serialize_tuple_struct(self, name: &'static str, len: usize) -> Result<Compound, Error> {
        Compound::new(self, Kind::Struct(name.into()), Some(len))
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _index: u32,
        var: &'static str,
        len: usize,
    ) -> Result<Compound, Error> {
        Compound::new(self, Kind::Variant(name.into(), var.into()), Some(len))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Compound, Error> {
        Compound::new(self, Kind::Map, len)
    }
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Compound, Error> {
        Compound::new(self, Kind::Struct(name.into()), Some(len))
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _index: u32,
        var: &'static str,
        len: usize,
    ) -> Result<Compound, Error> {
        Compound::new(self, Kind::Variant(name.into(), var.into()), Some(len))
    }
}

/// The compounds whose elements come one by one, unnamed.
macro_rules! unnamed_elements {
    ($($trait:ident :: $method:ident => $add:ident;)*) => {$(
        impl ser::$trait for Compound {
            type Ok = Frozen;
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
                self.$add(v)
            }
            fn end(self) -> Result<Frozen, Error> {
                self.finish()
            }
        }
    )*};
}

unnamed_elements! {
    SerializeSeq::serialize_element => push;
    SerializeTuple::serialize_element => push;
    SerializeTupleStruct::serialize_field => positional;
    SerializeTupleVariant::serialize_field => positional;
}

/// The compounds whose fields come with names.
macro_rules! named_fields {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Compound {
            type Ok = Frozen;
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                k: &'static str,
                v: &T,
            ) -> Result<(), Error> {
                self.named(k.to_owned(), v)
            }
            fn skip_field(&mut self, k: &'static str) -> Result<(), Error> {
                self.skipped.push(k.to_owned());
                Ok(())
            }
            fn end(self) -> Result<Frozen, Error> {
                self.finish()
            }
        }
    )*};
}

named_fields!(SerializeStruct, SerializeStructVariant);

impl ser::SerializeMap for Compound {
    type Ok = Frozen;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), Error> {
        self.pending_key = Some(self.ser.tree(k)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let key = self
            .pending_key
            .take()
            .ok_or_else(|| <Error as ser::Error>::custom("map value serialized before its key"))?;
        let value = self.ser.tree(v)?;
        self.items.push(Frozen::Tuple(vec![key, value]));
        Ok(())
    }
    fn end(self) -> Result<Frozen, Error> {
        self.finish()
    }
}

#[cfg(test)]
mod tests {
    use crate::{hash, Freeze, Serde};
    use std::collections::{BTreeMap, HashMap};

    #[derive(serde::Serialize, Freeze)]
    struct Pair {
        b: Vec<u16>,
        a: (i32, String),
    }

    #[derive(serde::Serialize, Freeze)]
    enum Shape {
        Circle(f64),
        Rect { w: u32, h: u32 },
        Empty,
    }

    #[test]
    fn serde_matches_derive_for_plain_structs_and_enums() {
        let p = Pair {
            b: vec![1],
            a: (2, "x".into()),
        };
        assert_eq!(hash(&Serde(&p)), hash(&p));
        assert_eq!(hash(&Serde(Shape::Circle(1.5))), hash(&Shape::Circle(1.5)));
        let rect = Shape::Rect { w: 1, h: 2 };
        assert_eq!(hash(&Serde(&rect)), hash(&rect));
        assert_eq!(hash(&Serde(Shape::Empty)), hash(&Shape::Empty));
    }

    #[test]
    fn serde_maps_are_order_free() {
        let a: HashMap<String, i32> = (0..50).map(|i| (i.to_string(), i)).collect();
        let b: BTreeMap<String, i32> = a.clone().into_iter().collect();
        assert_eq!(hash(&Serde(&a)), hash(&Serde(&b)));
        assert_eq!(hash(&Serde(&a)), hash(&a));
    }
}
