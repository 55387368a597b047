#![doc = include_str!("../README.md")]

mod attrs;
mod freeze;
mod memoize;
mod scan;

use proc_macro::TokenStream;

/// Derives `charm_freeze::Freeze`: fields by name (sorted, so reordering
/// declarations keeps the digest), variants by name.
///
/// Container attributes, in `#[freeze(..)]`: `name = ".."`, `version = N`,
/// `transparent`, `via = path`, `cache_key = path`, `cache_ver = path`,
/// `bound = ".."`, `crate = ".."`. Field attributes: `skip`,
/// `rename = ".."`, `with = path`. Variant attributes: `rename = ".."`.
/// See the `charm-freeze` crate documentation for what each does.
#[proc_macro_derive(Freeze, attributes(freeze))]
pub fn derive_freeze(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    freeze::expand(input, syn::parse_quote!(::charm_freeze))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// `#[derive(Freeze)]` as re-exported by the `charm` facade: the same, but
/// the generated code names `::charm::freeze` so users of `charm` need no
/// direct dependency on `charm-freeze`.
#[doc(hidden)]
#[proc_macro_derive(CharmFreeze, attributes(freeze))]
pub fn derive_charm_freeze(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    freeze::expand(input, syn::parse_quote!(::charm::freeze))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Memoizes a function in a persistent, shared cache.
///
/// Re-exported as `charm::memoize`; see its documentation for the options
/// (`group`, `name`, `version`, `deps`, `use_obj_store`,
/// `use_metadata_size`, `pickler`, `extra_func_state`, `cache_errors`,
/// `auto_deps`).
#[proc_macro_attribute]
pub fn memoize(args: TokenStream, item: TokenStream) -> TokenStream {
    memoize::memoize(args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Gives the `#[memoize]` methods of an impl block handles: for a method
/// `area`, `Type::area_memoized()` (its cache: `usage()`, `would_hit`…),
/// `value.area_uncached(..)` and `value.area_would_hit(..)`.
///
/// Re-exported as `charm::memoized_impl`; see its documentation.
#[proc_macro_attribute]
pub fn memoized_impl(args: TokenStream, item: TokenStream) -> TokenStream {
    memoize::memoized_impl(args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Gives a helper function a function state that `#[memoize(deps = [..])]`
/// can fold in: its code digest, its `version` and its own `deps`.
#[proc_macro_attribute]
pub fn freeze_fn(args: TokenStream, item: TokenStream) -> TokenStream {
    memoize::freeze_fn(args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
