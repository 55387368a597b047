//! Writers of values with children: they take a closure and a declared
//! count, so headers and counts always balance.

use super::{tag, Freezer, RangeKind, Sink};
use crate::writers::{Elements, Entries, Fields, SetElements};
use crate::{Digest, Freeze, FreezeError, Frozen};

impl Freezer {
    fn ordered(
        &mut self,
        kind: &'static str,
        header: u8,
        len: usize,
        body: impl FnOnce(&mut Elements<'_>),
        node: fn(Vec<Frozen>) -> Frozen,
    ) {
        self.raw(&[header]);
        self.raw(&(len as u64).to_le_bytes());
        let Some(outer) = self.enter() else {
            return;
        };
        body(&mut Elements::new(self));
        let (inner, frame) = self.leave(outer);
        self.check_count(kind, len as u64, inner);
        if let Some(frame) = frame {
            self.push(|| node(frame.nodes));
        }
    }

    /// A sequence of `len` elements, written by `body` in order.
    ///
    /// ```
    /// # use charm_freeze::{Freezer, Purpose};
    /// let v = [1u8, 2, 3];
    /// let mut f = Freezer::new(Purpose::Value);
    /// f.seq(v.len(), |s| for x in &v { s.element(x) });
    /// assert!(f.finish().is_ok());
    /// ```
    pub fn seq(&mut self, len: usize, body: impl FnOnce(&mut Elements<'_>)) {
        self.ordered("seq", tag::SEQ, len, body, Frozen::Seq);
    }

    /// A sequence of the items of an iterator whose length is known.
    pub fn seq_iter<I>(&mut self, items: I)
    where
        I: IntoIterator,
        I::IntoIter: ExactSizeIterator,
        I::Item: Freeze,
    {
        let items = items.into_iter();
        self.seq(items.len(), |s| {
            for x in items {
                s.element(&x);
            }
        });
    }

    /// A tuple (or tuple-like value) of `arity` elements.
    pub fn tuple(&mut self, arity: usize, body: impl FnOnce(&mut Elements<'_>)) {
        self.ordered("tuple", tag::TUPLE, arity, body, Frozen::Tuple);
    }

    /// `None` or `Some(v)`.
    pub fn option<T: Freeze + ?Sized>(&mut self, v: Option<&T>) {
        self.raw(&[tag::OPTION, v.is_some() as u8]);
        match v {
            None => self.leaf(|| Frozen::Option(None)),
            Some(v) => {
                let Some(outer) = self.enter() else {
                    return;
                };
                self.write(v);
                let (inner, frame) = self.leave(outer);
                self.check_count("option", 1, inner);
                if let Some(frame) = frame {
                    self.push(|| Frozen::Option(Some(Box::new(frame.single()))));
                }
            }
        }
    }

    /// `Ok(v)` or `Err(e)`.
    pub fn result<T: Freeze + ?Sized, E: Freeze + ?Sized>(&mut self, r: Result<&T, &E>) {
        self.raw(&[tag::RESULT, r.is_err() as u8]);
        let Some(outer) = self.enter() else {
            return;
        };
        match r {
            Ok(v) => self.write(v),
            Err(e) => self.write(e),
        }
        let (inner, frame) = self.leave(outer);
        self.check_count("result", 1, inner);
        if let Some(frame) = frame {
            let inner = Box::new(frame.single());
            self.push(|| Frozen::Result(if r.is_ok() { Ok(inner) } else { Err(inner) }));
        }
    }

    fn fields<'n>(
        &mut self,
        container: &str,
        count: usize,
        body: impl FnOnce(&mut Fields<'_, 'n>),
    ) -> Option<crate::tree::Frame> {
        self.raw(&(count as u64).to_le_bytes());
        let outer = self.enter()?;
        let mut s = Fields::new(self);
        body(&mut s);
        let (names, disorder) = s.finish();
        let (values, frame) = self.leave(outer);
        self.check_count("field names", count as u64, names);
        self.check_count("field values", count as u64, values);
        if let Some((previous, field)) = disorder {
            self.fail(FreezeError::FieldOrder {
                container: container.to_owned(),
                previous,
                field,
            });
        }
        frame
    }

    pub(crate) fn field_name(&mut self, name: &str) {
        match &mut self.sink {
            Sink::Hash(h) => {
                let sink = h.top();
                sink.write(&(name.len() as u64).to_le_bytes());
                sink.write(name.as_bytes());
            }
            Sink::Tree(t) => t.name(name),
        }
    }

    pub(crate) fn skipped_field(&mut self, name: &str) {
        if let Sink::Tree(t) = &mut self.sink {
            t.skipped(name);
        }
    }

    /// A struct named `name` at `version` with `fields` fields, written by
    /// `body` in strictly ascending byte order of their names (the derive
    /// sorts them at compile time, so declaration order does not matter).
    pub fn struct_<'n>(
        &mut self,
        name: &str,
        version: u32,
        fields: usize,
        body: impl FnOnce(&mut Fields<'_, 'n>),
    ) {
        self.len_prefixed(tag::STRUCT, name.as_bytes());
        self.raw(&version.to_le_bytes());
        if let Some(frame) = self.fields(name, fields, body) {
            let (fields, skipped) = frame.fields();
            self.push(|| Frozen::Struct {
                name: name.to_owned(),
                version,
                fields,
                skipped,
            });
        }
    }

    /// One variant of an enum; its fields are written as for
    /// [`struct_`](Self::struct_). Variants are identified by name, never by
    /// discriminant, so reordering them keeps every digest.
    pub fn variant<'n>(
        &mut self,
        enum_name: &str,
        version: u32,
        variant: &str,
        fields: usize,
        body: impl FnOnce(&mut Fields<'_, 'n>),
    ) {
        self.len_prefixed(tag::VARIANT, enum_name.as_bytes());
        self.raw(&version.to_le_bytes());
        self.raw(&(variant.len() as u64).to_le_bytes());
        self.raw(variant.as_bytes()); // lp(variant), no tag
        if let Some(frame) = self.fields(variant, fields, body) {
            let (fields, skipped) = frame.fields();
            self.push(|| Frozen::Variant {
                enum_name: enum_name.to_owned(),
                version,
                variant: variant.to_owned(),
                fields,
                skipped,
            });
        }
    }

    /// An unordered set of `len` elements: each is hashed on its own, and the
    /// sorted digests are hashed, so insertion order never matters.
    pub fn set(&mut self, len: usize, body: impl FnOnce(&mut SetElements<'_>)) {
        self.unordered(tag::SET, "set", len, |f| {
            let mut s = SetElements::new(f);
            body(&mut s);
            s.finish()
        });
    }

    /// Any iterator as a multiset (see [`Unordered`](crate::Unordered)).
    pub fn set_iter<I>(&mut self, items: I)
    where
        I: IntoIterator,
        I::IntoIter: ExactSizeIterator,
        I::Item: Freeze,
    {
        let items = items.into_iter();
        self.set(items.len(), |s| {
            for x in items {
                s.element(&x);
            }
        });
    }

    /// An unordered map of `len` entries: each `(key, value)` pair is hashed
    /// on its own as a 2-tuple, and the sorted digests are hashed.
    pub fn map(&mut self, len: usize, body: impl FnOnce(&mut Entries<'_>)) {
        self.unordered(tag::MAP, "map", len, |f| {
            let mut m = Entries::new(f);
            body(&mut m);
            m.finish()
        });
    }

    /// The common part of sets and maps: `body` writes the elements and
    /// returns their digests (hash mode) and their count.
    pub(super) fn unordered(
        &mut self,
        header: u8,
        kind: &'static str,
        len: usize,
        body: impl FnOnce(&mut Self) -> (Vec<Digest>, u64),
    ) {
        let Some(outer) = self.enter() else {
            return;
        };
        let (mut digests, written) = body(self);
        // Elements are written in sub-encodings, none at this level.
        let (stray, frame) = self.leave(outer);
        self.check_count(kind, len as u64, written);
        self.check_count(kind, 0, stray);
        match frame {
            Some(frame) => {
                let nodes = crate::tree::sort_by_digest(frame.nodes);
                self.push(|| {
                    if header == tag::SET {
                        Frozen::Set(nodes)
                    } else {
                        Frozen::Map(nodes)
                    }
                });
            }
            None => {
                digests.sort_unstable();
                self.raw(&[header]);
                self.raw(&(digests.len() as u64).to_le_bytes());
                for d in &digests {
                    self.raw(d.as_bytes());
                }
            }
        }
    }

    /// A range of the given kind; `start` and `end` must be present exactly
    /// when the kind has them.
    pub fn range<T: Freeze + ?Sized>(
        &mut self,
        kind: RangeKind,
        start: Option<&T>,
        end: Option<&T>,
    ) {
        self.raw(&[tag::RANGE, kind.code()]);
        if kind.has_start() != start.is_some() || kind.has_end() != end.is_some() {
            self.fail(FreezeError::RangeBounds {
                kind,
                start: start.is_some(),
                end: end.is_some(),
            });
        }
        let Some(outer) = self.enter() else {
            return;
        };
        if let Some(s) = start {
            self.write(s);
        }
        if let Some(e) = end {
            self.write(e);
        }
        let (inner, frame) = self.leave(outer);
        self.check_count(
            "range",
            start.is_some() as u64 + end.is_some() as u64,
            inner,
        );
        if let Some(frame) = frame {
            let mut nodes = frame.nodes.into_iter();
            let start = start.and_then(|_| nodes.next()).map(Box::new);
            let end = end.and_then(|_| nodes.next()).map(Box::new);
            self.push(|| Frozen::Range { kind, start, end });
        }
    }
}
