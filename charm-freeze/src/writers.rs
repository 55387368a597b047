//! The element writers handed to the closures of composite `Freezer` methods.

use crate::{Digest, Freeze, Freezer};

/// Writes the elements of a sequence or tuple; see [`Freezer::seq`].
#[derive(Debug)]
pub struct Elements<'a> {
    f: &'a mut Freezer,
}

impl<'a> Elements<'a> {
    pub(crate) fn new(f: &'a mut Freezer) -> Self {
        Elements { f }
    }

    /// Writes the next element.
    pub fn element<T: Freeze + ?Sized>(&mut self, v: &T) {
        self.f.write(v);
    }

    /// Writes the next element with a closure, for elements that are not a
    /// `Freeze` value of their own. The closure must write exactly one value:
    /// the freezer counts them, and a mismatch is a
    /// [`FreezeError::CountMismatch`](crate::FreezeError::CountMismatch).
    pub fn element_with(&mut self, body: impl FnOnce(&mut Freezer)) {
        body(self.f);
    }
}

/// Writes the fields of a struct or enum variant; see [`Freezer::struct_`].
///
/// Field names must come in strictly ascending byte order, each once;
/// anything else is a [`FreezeError::FieldOrder`](crate::FreezeError::FieldOrder).
#[derive(Debug)]
pub struct Fields<'a, 'n> {
    f: &'a mut Freezer,
    previous: Option<&'n str>,
    written: u64,
    disorder: Option<(String, String)>,
}

impl<'a, 'n> Fields<'a, 'n> {
    pub(crate) fn new(f: &'a mut Freezer) -> Self {
        Fields {
            f,
            previous: None,
            written: 0,
            disorder: None,
        }
    }

    pub(crate) fn finish(self) -> (u64, Option<(String, String)>) {
        (self.written, self.disorder)
    }

    fn name(&mut self, name: &'n str) {
        if let Some(prev) = self.previous {
            if prev >= name && self.disorder.is_none() {
                self.disorder = Some((prev.to_owned(), name.to_owned()));
            }
        }
        self.previous = Some(name);
        self.f.field_name(name);
        self.written += 1;
    }

    /// Writes the field `name` with value `v`.
    pub fn field<T: Freeze + ?Sized>(&mut self, name: &'n str, v: &T) {
        self.name(name);
        self.f.write(v);
    }

    /// Writes the field `name` with a closure that writes exactly one value
    /// (the derive's `#[freeze(with = path)]`); the freezer checks the count.
    pub fn field_with(&mut self, name: &'n str, body: impl FnOnce(&mut Freezer)) {
        self.name(name);
        body(self.f);
    }

    /// Marks a field that is deliberately left out (`#[freeze(skip)]`): it
    /// changes no digest and shows as `<skipped>` in explain mode.
    pub fn skipped(&mut self, name: &str) {
        self.f.skipped_field(name);
    }
}

/// Writes the elements of a set; see [`Freezer::set`].
#[derive(Debug)]
pub struct SetElements<'a> {
    f: &'a mut Freezer,
    digests: Vec<Digest>,
    written: u64,
}

impl<'a> SetElements<'a> {
    pub(crate) fn new(f: &'a mut Freezer) -> Self {
        SetElements {
            f,
            digests: Vec::new(),
            written: 0,
        }
    }

    pub(crate) fn finish(self) -> (Vec<Digest>, u64) {
        (self.digests, self.written)
    }

    /// Adds an element; the order of calls does not matter.
    pub fn element<T: Freeze + ?Sized>(&mut self, v: &T) {
        let write = |f: &mut Freezer| f.write(v);
        let sub = self.f.unordered_element(&[&write], &write);
        self.f.push_sub(sub, &mut self.digests);
        self.written += 1;
    }
}

/// Writes the entries of a map; see [`Freezer::map`].
#[derive(Debug)]
pub struct Entries<'a> {
    f: &'a mut Freezer,
    digests: Vec<Digest>,
    written: u64,
}

impl<'a> Entries<'a> {
    pub(crate) fn new(f: &'a mut Freezer) -> Self {
        Entries {
            f,
            digests: Vec::new(),
            written: 0,
        }
    }

    pub(crate) fn finish(self) -> (Vec<Digest>, u64) {
        (self.digests, self.written)
    }

    /// Adds the entry `key → value`; the order of calls does not matter.
    pub fn entry<K: Freeze + ?Sized, V: Freeze + ?Sized>(&mut self, key: &K, value: &V) {
        let pair = |f: &mut Freezer| {
            f.tuple(2, |t| {
                t.element(key);
                t.element(value);
            })
        };
        let sub = self
            .f
            .unordered_element(&[&|f| f.write(key), &|f| f.write(value)], &pair);
        self.f.push_sub(sub, &mut self.digests);
        self.written += 1;
    }
}
