//! The four plugin traits.

pub(crate) mod lock;
pub(crate) mod obj_store;
pub(crate) mod pickler;
pub(crate) mod policy;
