//! `#[memoize]` and `#[freeze_fn]`.

use crate::attrs::Errors;
use charm_build::digest;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Expr, ExprArray, ExprLit, FnArg, ItemFn, Lit, LitBool, LitStr, Pat, Path, ReturnType, Token,
    Type,
};

/// The options of `#[memoize(..)]` (and the `deps`/`version` of `#[freeze_fn(..)]`).
#[derive(Default)]
struct Options {
    group: Option<Expr>,
    name: Option<LitStr>,
    version: Option<LitStr>,
    deps: Vec<Path>,
    use_obj_store: Option<LitBool>,
    use_metadata_size: Option<LitBool>,
    pickler: Option<LitStr>,
    extra_func_state: Option<Expr>,
    cache_errors: Option<LitBool>,
    auto_deps: Option<LitBool>,
    disable: Option<Expr>,
    krate: Option<Path>,
}

const MEMOIZE_KEYS: &str = "group, name, version, deps, use_obj_store, use_metadata_size, \
                            pickler, extra_func_state, cache_errors, auto_deps, disable, crate";
const FREEZE_FN_KEYS: &str = "version, deps, auto_deps, crate";

fn parse_options(args: TokenStream, memoize: bool, errors: &mut Errors) -> Options {
    let mut o = Options::default();
    let metas = match Punctuated::<syn::MetaNameValue, Token![,]>::parse_terminated.parse2(args) {
        Ok(m) => m,
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!(
                    "expected `key = value` options ({}): {e}",
                    if memoize {
                        MEMOIZE_KEYS
                    } else {
                        FREEZE_FN_KEYS
                    }
                ),
            ));
            return o;
        }
    };
    for m in metas {
        let key = m
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        let v = m.value;
        let str_lit = |v: &Expr| match v {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Ok(s.clone()),
            other => Err(syn::Error::new(
                other.span(),
                format!("`{key}` takes a string, like {key} = \"..\""),
            )),
        };
        let bool_lit = |v: &Expr| match v {
            Expr::Lit(ExprLit {
                lit: Lit::Bool(b), ..
            }) => Ok(b.clone()),
            other => Err(syn::Error::new(
                other.span(),
                format!("`{key}` takes true or false"),
            )),
        };
        let allowed = memoize || matches!(key.as_str(), "version" | "deps" | "auto_deps" | "crate");
        let result: syn::Result<()> = match key.as_str() {
            _ if !allowed => Err(syn::Error::new(
                m.path.span(),
                format!("#[freeze_fn] takes only: {FREEZE_FN_KEYS}"),
            )),
            "group" => {
                o.group = Some(v);
                Ok(())
            }
            "name" => str_lit(&v).map(|s| o.name = Some(s)),
            "version" => str_lit(&v).map(|s| o.version = Some(s)),
            "pickler" => str_lit(&v).map(|s| o.pickler = Some(s)),
            "use_obj_store" => bool_lit(&v).map(|b| o.use_obj_store = Some(b)),
            "use_metadata_size" => bool_lit(&v).map(|b| o.use_metadata_size = Some(b)),
            "cache_errors" => bool_lit(&v).map(|b| o.cache_errors = Some(b)),
            "auto_deps" => bool_lit(&v).map(|b| o.auto_deps = Some(b)),
            "extra_func_state" => {
                o.extra_func_state = Some(v);
                Ok(())
            }
            "disable" => {
                o.disable = Some(v);
                Ok(())
            }
            "crate" => str_lit(&v)
                .and_then(|s| s.parse())
                .map(|p| o.krate = Some(p)),
            "deps" => match v {
                Expr::Array(ExprArray { elems, .. }) => elems
                    .into_iter()
                    .map(|e| match e {
                        Expr::Path(p) => Ok(p.path),
                        other => Err(syn::Error::new(
                            other.span(),
                            "each dep is the path of a function marked #[freeze_fn] or #[memoize]",
                        )),
                    })
                    .collect::<syn::Result<Vec<_>>>()
                    .map(|d| o.deps = d),
                other => Err(syn::Error::new(
                    other.span(),
                    "deps takes a list: deps = [helper, module::other]",
                )),
            },
            _ => Err(syn::Error::new(
                m.path.span(),
                format!("unknown option `{key}`; expected one of: {MEMOIZE_KEYS}"),
            )),
        };
        if let Err(e) = result {
            errors.push(e);
        }
    }
    o
}

/// Rejects what cannot be memoized, with what to do instead.
fn check_signature(f: &ItemFn, errors: &mut Errors) {
    let sig = &f.sig;
    if let Some(r) = sig.receiver() {
        if r.reference.is_some() && r.mutability.is_some() {
            errors.at(
                r.span(),
                "#[memoize] cannot cache a `&mut self` method: a hit would return the value \
                 without the mutation; memoize a `&self` function that computes the new state, \
                 and apply it in a plain method",
            );
        }
    }
    if let Some(p) = sig.generics.type_params().next() {
        errors.at(
            p.span(),
            "#[memoize] cannot cache a generic function (each instantiation would need its own \
             cache); memoize a non-generic wrapper that calls it with concrete types",
        );
    }
    if let Some(p) = sig.generics.const_params().next() {
        errors.at(
            p.span(),
            "#[memoize] cannot cache a function generic over a constant; memoize a wrapper",
        );
    }
    for arg in &sig.inputs {
        if let FnArg::Typed(t) = arg {
            if let Type::ImplTrait(i) = &*t.ty {
                errors.at(i.span(), "#[memoize] cannot cache a function taking `impl Trait` (a generic); use a concrete type");
            }
            match &*t.pat {
                Pat::Ident(_) => {}
                other => errors.at(
                    other.span(),
                    "#[memoize] needs a plain name for each argument (it is hashed into the key); \
                     destructure inside the body instead",
                ),
            }
        }
    }
}

/// The names of the arguments, as expressions to hash (`self` included).
fn arg_refs(f: &ItemFn) -> Vec<TokenStream> {
    f.sig
        .inputs
        .iter()
        .map(|arg| match arg {
            FnArg::Receiver(r) => quote_spanned!(r.span()=> &self),
            FnArg::Typed(t) => match &*t.pat {
                Pat::Ident(i) => {
                    let id = &i.ident;
                    quote!(&#id)
                }
                _ => quote!(&()),
            },
        })
        .collect()
}

/// The call into the cache; `run` makes the value on a miss: a closure's
/// body (`|| run`) for a sync function, a future for an async one.
fn invoke(is_async: bool, fallible: bool, run: TokenStream) -> TokenStream {
    match (is_async, fallible) {
        (false, false) => quote!(__prehashed(__charm_args).call(move || #run)),
        (false, true) => quote!(__prehashed(__charm_args).call_ok(move || #run)),
        (true, false) => quote!(__prehashed(__charm_args).call_async(#run).await),
        (true, true) => quote!(__prehashed(__charm_args).call_ok_async(#run).await),
    }
}

/// The names of the arguments (not `self`), to pass them on.
fn arg_names(f: &ItemFn) -> Vec<TokenStream> {
    f.sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(t) => match &*t.pat {
                Pat::Ident(i) => {
                    let id = &i.ident;
                    Some(quote!(#id))
                }
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect()
}

fn is_result(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Result"),
        _ => false,
    }
}

/// The signatures of the uncached twin and of the typed `would_hit`.
fn companions(
    f: &ItemFn,
    uncached_name: syn::Ident,
    would_hit_name: syn::Ident,
) -> (syn::Signature, syn::Signature) {
    let mut uncached = f.sig.clone();
    uncached.ident = uncached_name;
    let mut would_hit = f.sig.clone();
    would_hit.ident = would_hit_name;
    would_hit.asyncness = None;
    would_hit.output = syn::parse_quote!(-> bool);
    drop_mut(&mut would_hit); // only hashed
    (uncached, would_hit)
}

/// Removes `mut` from the argument patterns of `sig`.
fn drop_mut(sig: &mut syn::Signature) {
    for arg in &mut sig.inputs {
        if let FnArg::Typed(t) = arg {
            if let Pat::Ident(i) = &mut *t.pat {
                i.mutability = None;
            }
        }
    }
}

/// The function states of `deps`, as expressions. Each dep is imported
/// under an alias that says what it needs: a function not marked
/// `#[freeze_fn]` has no type beside it, and rustc's error then reads
/// "expected type, found function `helper_needs_charm_freeze_fn`".
fn dep_states(deps: &[Path], krate: &Path, visited: &TokenStream) -> Vec<TokenStream> {
    deps.iter()
        .map(|dep| {
            let last = dep
                .segments
                .last()
                .map(|s| s.ident.to_string())
                .unwrap_or_default();
            let alias = format_ident!("{}_needs_charm_freeze_fn", last, span = dep.span());
            quote_spanned! {dep.span()=> {
                #[allow(unused_imports)]
                use #dep as #alias;
                <#alias as #krate::__private::FnState>::state(#visited)
            }}
        })
        .collect()
}

/// The hidden type-namespace item beside the function (`f::memoized()`,
/// and its function state for others' `deps`).
fn fn_state_item(f: &ItemFn, o: &Options, krate: &Path, closure: &TokenStream) -> TokenStream {
    let vis = &f.vis;
    let ident = &f.sig.ident;
    let digest = digest(quote!(#f));
    let version = o.version.as_ref().map(LitStr::value).unwrap_or_default();
    let deps = dep_states(&o.deps, krate, &quote!(visited));
    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #ident {}

        impl #krate::__private::FnState for #ident {
            fn state(visited: &mut ::std::vec::Vec<&'static str>) -> #krate::Digest {
                const ME: &str = ::std::concat!(::std::module_path!(), "::", ::std::stringify!(#ident));
                if visited.contains(&ME) {
                    // A cycle of deps: stop at a reference to the name.
                    return #krate::freeze::hash(&("cycle", ME));
                }
                visited.push(ME);
                let deps: ::std::vec::Vec<#krate::Digest> = ::std::vec![#(#deps,)*];
                visited.pop();
                #krate::freeze::hash(&(#krate::Digest::from_bytes([#(#digest),*]), #version, deps, #closure))
            }
        }
    }
}

pub(crate) fn freeze_fn(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let o = parse_options(args, false, &mut errors);
    let f: ItemFn = match syn::parse2(item) {
        Ok(f) => f,
        Err(e) => {
            return Err(syn::Error::new(
                e.span(),
                "#[freeze_fn] goes on a free function (`fn helper(..)`); methods, consts and \
                 types a memoized function uses are seen by charm_build::scan() in build.rs",
            ))
        }
    };
    if let Some(r) = f.sig.receiver() {
        errors.at(
            r.span(),
            "#[freeze_fn] goes on a free function, not a method; a method's code is seen by \
             charm_build::scan() in build.rs",
        );
    }
    let closure = crate::scan::closure(&f.sig.ident, &o.auto_deps, &mut errors);
    errors.finish()?;
    let krate = o
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::charm));
    let state = fn_state_item(&f, &o, &krate, &closure);
    Ok(quote! { #state #f })
}

pub(crate) fn memoize(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    expand(args, syn::parse2(item)?, false).map(|(f, _)| f)
}

/// `#[memoized_impl]`: memoizes the `#[memoize]` methods of an impl block
/// and gives each a handle (`name_memoized()`), its uncached body
/// (`name_uncached(..)`) and a typed `name_would_hit(..)`. An inherent
/// impl gets them beside the method; a trait impl, which takes no extra
/// items, in an inherent impl of its type beside it.
pub(crate) fn memoized_impl(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    if !args.is_empty() {
        return Err(syn::Error::new(
            args.into_iter()
                .next()
                .map_or_else(Span::call_site, |t| t.span()),
            "#[memoized_impl] takes no options; put them on each #[memoize] method",
        ));
    }
    let mut imp: syn::ItemImpl = syn::parse2(item)?;
    let mut companions = TokenStream::new();
    let mut items = Vec::new();
    for ii in std::mem::take(&mut imp.items) {
        let syn::ImplItem::Fn(mut f) = ii else {
            items.push(ii);
            continue;
        };
        let is_memoize = |a: &syn::Attribute| {
            a.path()
                .segments
                .last()
                .is_some_and(|s| s.ident == "memoize")
        };
        let Some(at) = f.attrs.iter().position(is_memoize) else {
            items.push(syn::ImplItem::Fn(f));
            continue;
        };
        let args = match f.attrs.remove(at).meta {
            syn::Meta::List(l) => l.tokens,
            syn::Meta::Path(_) => TokenStream::new(),
            syn::Meta::NameValue(nv) => {
                return Err(syn::Error::new(
                    nv.span(),
                    "write #[memoize] or #[memoize(options..)]",
                ))
            }
        };
        let item = ItemFn {
            attrs: f.attrs,
            vis: f.vis,
            sig: f.sig,
            block: Box::new(f.block),
        };
        let (method, handles) = expand(args, item, true)?;
        items.push(syn::ImplItem::Verbatim(method));
        companions.extend(handles);
    }
    imp.items = items;
    if imp.trait_.is_none() {
        imp.items.push(syn::ImplItem::Verbatim(companions));
        return Ok(quote!(#imp));
    }
    let (generics, _, where_clause) = imp.generics.split_for_impl();
    let self_ty = &imp.self_ty;
    Ok(quote! {
        #imp
        impl #generics #self_ty #where_clause {
            #companions
        }
    })
}

/// The memoized function, and (for a method with `handles`) the items to
/// put beside it.
fn expand(args: TokenStream, f: ItemFn, handles: bool) -> syn::Result<(TokenStream, TokenStream)> {
    let mut errors = Errors::default();
    let o = parse_options(args, true, &mut errors);
    check_signature(&f, &mut errors);
    let is_method = f.sig.receiver().is_some();
    let closure = crate::scan::closure(&f.sig.ident, &o.auto_deps, &mut errors);
    errors.finish()?;
    let krate = o
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::charm));

    let ident = &f.sig.ident;
    let ret: Type = match &f.sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, t) => (**t).clone(),
    };
    let cache_errors = o.cache_errors.as_ref().is_some_and(LitBool::value);
    let fallible = is_result(&ret) && !cache_errors;
    let cached: TokenStream = if fallible {
        quote!(<#ret as #krate::__private::ResultLike>::Ok)
    } else {
        quote!(#ret)
    };

    let name = match &o.name {
        Some(n) => quote!(::std::string::String::from(#n)),
        None if is_method => quote!(::std::format!(
            "{}::{}",
            ::std::any::type_name::<Self>(),
            ::std::stringify!(#ident)
        )),
        None => quote!(::std::string::String::from(::std::concat!(
            ::std::module_path!(),
            "::",
            ::std::stringify!(#ident)
        ))),
    };
    let mut options = Vec::new();
    if let Some(v) = &o.version {
        options.push(quote!(.version(#v)));
    }
    if let Some(b) = &o.use_obj_store {
        options.push(quote!(.use_obj_store(#b)));
    }
    if let Some(b) = &o.use_metadata_size {
        options.push(quote!(.use_metadata_size(#b)));
    }
    if let Some(p) = &o.pickler {
        options.push(quote!(.pickler(#p)));
    }
    if let Some(e) = &o.extra_func_state {
        options.push(quote!(.extra_func_state(move || #e)));
    }
    if let Some(g) = &o.group {
        options.push(quote!(.group_with(move || #g)));
    }
    if let Some(d) = &o.disable {
        options.push(quote!(.disable(move || #d)));
    }
    let code_digest = if is_method {
        // Methods have no item beside them: their own tokens and deps.
        let digest = digest(quote!(#f));
        let deps = dep_states(&o.deps, &krate, &quote!(&mut visited));
        quote! {{
            #[allow(unused_mut, unused_variables)]
            let mut visited: ::std::vec::Vec<&'static str> = ::std::vec::Vec::new();
            let deps: ::std::vec::Vec<#krate::Digest> = ::std::vec![#(#deps,)*];
            #krate::freeze::hash(&(#krate::Digest::from_bytes([#(#digest),*]), deps, #closure))
        }}
    } else {
        quote!(<#ident as #krate::__private::FnState>::state(&mut ::std::vec::Vec::new()))
    };
    // A `Vec<u8>` (however it is spelled) is stored as its own bytes.
    let build = quote! {{
        #[allow(unused_imports)]
        use #krate::{PicklerCodec as _, RawBytesCodec as _};
        let builder = #krate::Memoized::<#cached>::builder(#name)
            .code_digest(#code_digest)
            #(#options)*;
        (&&#krate::CodecProbe::<#cached>::new()).choose_codec(builder).build()
    }};

    let refs = arg_refs(&f);
    let body = &f.block;
    let attrs = &f.attrs;
    let vis = &f.vis;
    let sig = &f.sig;
    let span = Span::call_site();
    let is_async = f.sig.asyncness.is_some();

    if is_method && !handles {
        // A method may be in a trait impl, which takes no extra items: its
        // cache lives inside it (`#[memoized_impl]` gives it handles).
        let run = match is_async {
            false => quote!(-> #ret #body),
            true => quote!(async move #body),
        };
        let invoke = invoke(is_async, fallible, run);
        let method = quote_spanned! {span=>
            #(#attrs)*
            #vis #sig {
                static __CHARM_MEMOIZED: ::std::sync::OnceLock<#krate::Memoized<#cached>> = ::std::sync::OnceLock::new();
                let __charm_memoized = __CHARM_MEMOIZED.get_or_init(|| #build);
                let __charm_args = #krate::ArgDigests::of(&(#(#refs,)*));
                __charm_memoized.#invoke
            }
        };
        return Ok((method, TokenStream::new()));
    }
    // The handles: `f::memoized()`, `f::uncached(..)`, `f::would_hit(..)`
    // beside a function; `Self::m_memoized()`, `self.m_uncached(..)`,
    // `self.m_would_hit(..)` beside a method. A miss runs the uncached
    // twin, so the body compiles once.
    let (memoized, uncached, would_hit) = match is_method {
        true => (
            format_ident!("{ident}_memoized"),
            format_ident!("{ident}_uncached"),
            format_ident!("{ident}_would_hit"),
        ),
        false => (
            format_ident!("memoized"),
            format_ident!("uncached"),
            format_ident!("would_hit"),
        ),
    };
    let args = arg_names(&f);
    let (owner, run) = match is_method {
        true => (quote!(Self), quote!(self.#uncached(#(#args),*))),
        false => (quote!(#ident), quote!(#ident::#uncached(#(#args),*))),
    };
    let (uncached_sig, would_hit_sig) = companions(&f, uncached, would_hit);
    let handles = quote! {
        /// The cache behind this function.
        #[allow(dead_code)]
        #vis fn #memoized() -> &'static #krate::Memoized<#cached> {
            static __CHARM_MEMOIZED: ::std::sync::OnceLock<#krate::Memoized<#cached>> = ::std::sync::OnceLock::new();
            __CHARM_MEMOIZED.get_or_init(|| #build)
        }

        /// The function itself, without the cache.
        #[allow(dead_code)]
        #vis #uncached_sig #body

        /// Whether a call with these arguments would be answered from the
        /// cache; changes nothing.
        #[allow(dead_code)]
        #vis #would_hit_sig {
            #owner::#memoized().would_hit(&(#(#refs,)*))
        }
    };
    let mut sig = sig.clone();
    drop_mut(&mut sig); // the arguments are only passed on
    let invoke = invoke(is_async, fallible, run);
    let call = quote_spanned! {span=>
        #(#attrs)*
        #vis #sig {
            let __charm_args = #krate::ArgDigests::of(&(#(#refs,)*));
            #owner::#memoized().#invoke
        }
    };
    if is_method {
        return Ok((call, handles));
    }
    let state = fn_state_item(&f, &o, &krate, &closure);
    let function = quote_spanned! {span=>
        #state

        impl #ident {
            #handles
        }

        #call
    };
    Ok((function, TokenStream::new()))
}
