//! Parsing of `#[freeze(..)]` attributes, collecting every error.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprLit, Lit, LitStr, Path};

/// Accumulates errors so one compile reports all of them.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    pub(crate) fn at(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.push(syn::Error::new(span, msg));
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// `#[freeze(..)]` on the struct or enum.
#[derive(Default)]
pub(crate) struct ContainerAttrs {
    pub(crate) name: Option<LitStr>,
    pub(crate) version: Option<u32>,
    pub(crate) transparent: Option<Span>,
    pub(crate) via: Option<Path>,
    pub(crate) cache_key: Option<Path>,
    pub(crate) cache_ver: Option<Path>,
    pub(crate) bound: Option<Vec<syn::WherePredicate>>,
    pub(crate) krate: Option<Path>,
}

/// `#[freeze(..)]` on a field.
#[derive(Default)]
pub(crate) struct FieldAttrs {
    pub(crate) skip: Option<Span>,
    pub(crate) rename: Option<LitStr>,
    pub(crate) with: Option<Path>,
}

/// `#[freeze(..)]` on a variant.
#[derive(Default)]
pub(crate) struct VariantAttrs {
    pub(crate) rename: Option<LitStr>,
}

fn freeze_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("freeze"))
}

/// A path given bare (`with = my_fn`) or quoted (`with = "my_fn"`).
fn path_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<Path> {
    let expr: Expr = meta.value()?.parse()?;
    match expr {
        Expr::Path(p) => Ok(p.path),
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => s.parse(),
        other => Err(syn::Error::new(
            other.span(),
            "expected a path to a function, like `my_module::my_fn`",
        )),
    }
}

fn set_once<T>(
    slot: &mut Option<T>,
    value: T,
    meta: &syn::meta::ParseNestedMeta<'_>,
    errors: &mut Errors,
) {
    if slot.is_some() {
        let name = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        errors.at(
            meta.path.span(),
            format!("duplicate freeze attribute `{name}`"),
        );
    } else {
        *slot = Some(value);
    }
}

pub(crate) fn container(attrs: &[Attribute], errors: &mut Errors) -> ContainerAttrs {
    let mut out = ContainerAttrs::default();
    for attr in freeze_attrs(attrs) {
        let parsed = attr.parse_nested_meta(|meta| {
            let p = &meta.path;
            if p.is_ident("name") {
                let v: LitStr = meta.value()?.parse()?;
                set_once(&mut out.name, v, &meta, errors);
            } else if p.is_ident("version") {
                let lit: Lit = meta.value()?.parse()?;
                let v = match &lit {
                    Lit::Int(i) => i.base10_parse::<u32>()?,
                    Lit::Str(s) => s.value().parse::<u32>().map_err(|_| {
                        syn::Error::new(lit.span(), "version must be a whole number, like `version = 2`")
                    })?,
                    _ => {
                        return Err(syn::Error::new(
                            lit.span(),
                            "version must be a whole number, like `version = 2`",
                        ))
                    }
                };
                set_once(&mut out.version, v, &meta, errors);
            } else if p.is_ident("transparent") {
                set_once(&mut out.transparent, p.span(), &meta, errors);
            } else if p.is_ident("via") {
                let v = path_value(&meta)?;
                set_once(&mut out.via, v, &meta, errors);
            } else if p.is_ident("cache_key") {
                let v = path_value(&meta)?;
                set_once(&mut out.cache_key, v, &meta, errors);
            } else if p.is_ident("cache_ver") {
                let v = path_value(&meta)?;
                set_once(&mut out.cache_ver, v, &meta, errors);
            } else if p.is_ident("bound") {
                let s: LitStr = meta.value()?.parse()?;
                let preds = s.parse_with(
                    syn::punctuated::Punctuated::<syn::WherePredicate, syn::Token![,]>::parse_terminated,
                )?;
                set_once(&mut out.bound, preds.into_iter().collect(), &meta, errors);
            } else if p.is_ident("crate") {
                let v = path_value(&meta)?;
                set_once(&mut out.krate, v, &meta, errors);
            } else {
                return Err(meta.error(
                    "unknown freeze container attribute; expected one of: name, version, \
                     transparent, via, cache_key, cache_ver, bound, crate",
                ));
            }
            Ok(())
        });
        if let Err(e) = parsed {
            errors.push(e);
        }
    }
    out
}

pub(crate) fn field(attrs: &[Attribute], errors: &mut Errors) -> FieldAttrs {
    let mut out = FieldAttrs::default();
    for attr in freeze_attrs(attrs) {
        let parsed = attr.parse_nested_meta(|meta| {
            let p = &meta.path;
            if p.is_ident("skip") {
                set_once(&mut out.skip, p.span(), &meta, errors);
            } else if p.is_ident("rename") {
                let v: LitStr = meta.value()?.parse()?;
                set_once(&mut out.rename, v, &meta, errors);
            } else if p.is_ident("with") {
                let v = path_value(&meta)?;
                set_once(&mut out.with, v, &meta, errors);
            } else {
                return Err(meta
                    .error("unknown freeze field attribute; expected one of: skip, rename, with"));
            }
            Ok(())
        });
        if let Err(e) = parsed {
            errors.push(e);
        }
    }
    if let (Some(span), true) = (out.skip, out.rename.is_some() || out.with.is_some()) {
        errors.at(
            span,
            "a skipped field is not frozen: remove `rename`/`with` or remove `skip`",
        );
    }
    out
}

pub(crate) fn variant(attrs: &[Attribute], errors: &mut Errors) -> VariantAttrs {
    let mut out = VariantAttrs::default();
    for attr in freeze_attrs(attrs) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let v: LitStr = meta.value()?.parse()?;
                set_once(&mut out.rename, v, &meta, errors);
                Ok(())
            } else {
                Err(meta.error("unknown freeze variant attribute; expected: rename"))
            }
        });
        if let Err(e) = parsed {
            errors.push(e);
        }
    }
    out
}
