#![doc = include_str!("../README.md")]

pub use charm_core::*;

/// Stable, injective, order-free hashing of values: the `charm-freeze` crate.
pub mod freeze {
    pub use charm_freeze::*;
}

pub use charm_freeze::freeze_trait::Freeze;
pub use charm_freeze::{Digest, Freezer};

/// `#[derive(Freeze)]`; see [`freeze`] for its attributes.
pub use charm_macros::CharmFreeze as Freeze;

/// The built-in object stores and picklers (`dir`, `postcard`, `json`).
pub mod stores {
    pub use charm_stores::*;
}

/// The built-in replacement policies (`gdsize`).
pub mod policies {
    pub use charm_policies::*;
}

/// The built-in locks (`file`, `naive`).
pub mod locks {
    pub use charm_locks::*;
}

// Keep the plugin crates' registrations linked in (inventory issue #50).
use charm_locks as _;
use charm_policies as _;
use charm_stores as _;

/// The workspace README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct WorkspaceReadme;
