//! `#[derive(Freeze)]` expansion.

use crate::attrs::{self, ContainerAttrs, Errors};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{parse_quote, Data, DeriveInput, Fields, Path};

/// One field as the derive writes it.
struct FieldPlan {
    /// The frozen name (after `rename`; `"0"`, `"1"`… for tuple fields).
    name: String,
    /// An expression of type `&FieldType`.
    access: TokenStream,
    skip: bool,
    with: Option<Path>,
    span: Span,
}

pub(crate) fn expand(input: DeriveInput, default_crate: Path) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let attrs = attrs::container(&input.attrs, &mut errors);
    let krate: Path = attrs.krate.clone().unwrap_or(default_crate);
    let ident = &input.ident;
    let name = attrs
        .name
        .as_ref()
        .map(|n| n.value())
        .unwrap_or_else(|| ident.to_string());
    let version = attrs.version.unwrap_or(0);

    check_container(&input, &attrs, &mut errors);

    let body = match &input.data {
        Data::Union(u) => {
            errors.at(
                u.union_token.span,
                "Freeze cannot be derived for unions: which field is live is unknown; \
                 implement Freeze by hand",
            );
            TokenStream::new()
        }
        _ if attrs.via.is_some() => {
            let via = attrs.via.as_ref();
            quote!(__f.write(&#via(self));)
        }
        Data::Struct(s) => {
            let fields = plan_fields(&s.fields, |member| quote!(&self.#member), &mut errors);
            if let Some(span) = attrs.transparent {
                transparent_body(&fields, span, &mut errors)
            } else {
                let writes = field_writes(&fields, &name, &mut errors);
                let count = fields.iter().filter(|f| !f.skip).count();
                quote!(__f.struct_(#name, #version, #count, |__s| { #writes });)
            }
        }
        Data::Enum(e) => {
            let mut seen = std::collections::BTreeMap::new();
            let mut arms = Vec::new();
            for v in &e.variants {
                let vattrs = attrs::variant(&v.attrs, &mut errors);
                let vname = vattrs
                    .rename
                    .as_ref()
                    .map(|r| r.value())
                    .unwrap_or_else(|| v.ident.to_string());
                if let Some(first) = seen.insert(vname.clone(), v.ident.to_string()) {
                    errors.at(
                        v.span(),
                        format!(
                            "variants `{first}` and `{}` both freeze as `{vname}`; give one a \
                             different #[freeze(rename = \"..\")]",
                            v.ident
                        ),
                    );
                }
                let fields = plan_fields(
                    &v.fields,
                    |member| {
                        let binding = binding(member);
                        quote!(#binding)
                    },
                    &mut errors,
                );
                let pattern_fields = v.fields.iter().enumerate().map(|(i, f)| {
                    let member = member(f, i);
                    let binding = binding(&member);
                    quote!(#member: #binding)
                });
                let writes = field_writes(&fields, &vname, &mut errors);
                let count = fields.iter().filter(|f| !f.skip).count();
                let vident = &v.ident;
                arms.push(quote! {
                    Self::#vident { #(#pattern_fields,)* } => {
                        __f.variant(#name, #version, #vname, #count, |__s| { #writes });
                    }
                });
            }
            quote!(match self { #(#arms)* })
        }
    };
    errors.finish()?;

    let mut generics = input.generics.clone();
    {
        let where_clause = generics.make_where_clause();
        match &attrs.bound {
            Some(preds) => where_clause.predicates.extend(preds.iter().cloned()),
            None => {
                for param in input.generics.type_params() {
                    let p = &param.ident;
                    where_clause
                        .predicates
                        .push(parse_quote!(#p: #krate::Freeze));
                }
            }
        }
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    // What a `cache_key`/`cache_ver` function writes is hashed as-is.
    let as_value = |p: &Path| quote!(__f.with_purpose(#krate::Purpose::Value, |__f| #p(self, __f)));
    let cache_key = attrs.cache_key.as_ref().map(|p| {
        let body = as_value(p);
        quote! {
            fn freeze_cache_key(&self, __f: &mut #krate::Freezer) { #body }
        }
    });
    let cache_ver = match &attrs.cache_ver {
        Some(p) => as_value(p),
        None => quote!(#krate::Freeze::freeze(self, __f)),
    };
    Ok(quote! {
        const _: () = {
            #[automatically_derived]
            impl #impl_generics #krate::Freeze for #ident #ty_generics #where_clause {
                fn freeze(&self, __f: &mut #krate::Freezer) {
                    #body
                }
                #cache_key
                fn freeze_cache_ver(&self, __f: &mut #krate::Freezer) {
                    #cache_ver
                }
            }
        };
    })
}

fn check_container(input: &DeriveInput, attrs: &ContainerAttrs, errors: &mut Errors) {
    if let Some(span) = attrs.transparent {
        if matches!(input.data, Data::Enum(_)) {
            errors.at(
                span,
                "`transparent` needs a struct with one frozen field, not an enum",
            );
        }
        if attrs.via.is_some() {
            errors.at(
                span,
                "`transparent` and `via` both say what to freeze: keep one",
            );
        }
        if attrs.name.is_some() || attrs.version.is_some() {
            errors.at(
                span,
                "a `transparent` struct has no name or version of its own: remove `name`/`version`",
            );
        }
    }
}

fn member(f: &syn::Field, i: usize) -> syn::Member {
    match &f.ident {
        Some(id) => syn::Member::Named(id.clone()),
        None => syn::Member::Unnamed(syn::Index::from(i)),
    }
}

fn binding(member: &syn::Member) -> syn::Ident {
    match member {
        syn::Member::Named(id) => format_ident!("__field_{}", id),
        syn::Member::Unnamed(i) => format_ident!("__field_{}", i.index),
    }
}

fn plan_fields(
    fields: &Fields,
    access: impl Fn(&syn::Member) -> TokenStream,
    errors: &mut Errors,
) -> Vec<FieldPlan> {
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let fa = attrs::field(&f.attrs, errors);
            let member = member(f, i);
            let name = match (&fa.rename, &f.ident) {
                (Some(r), _) => r.value(),
                (None, Some(id)) => id.to_string().trim_start_matches("r#").to_owned(),
                (None, None) => i.to_string(),
            };
            FieldPlan {
                name,
                access: access(&member),
                skip: fa.skip.is_some(),
                with: fa.with,
                span: f.span(),
            }
        })
        .collect()
}

fn write_one(field: &FieldPlan) -> TokenStream {
    let access = &field.access;
    match &field.with {
        Some(with) => quote!(#with(#access, __f)),
        None => quote!(__f.write(#access)),
    }
}

fn transparent_body(fields: &[FieldPlan], span: Span, errors: &mut Errors) -> TokenStream {
    let live: Vec<&FieldPlan> = fields.iter().filter(|f| !f.skip).collect();
    match live.as_slice() {
        [only] => {
            let write = write_one(only);
            quote!(#write;)
        }
        _ => {
            errors.at(
                span,
                format!(
                    "`transparent` needs exactly one field that is not skipped, found {}",
                    live.len()
                ),
            );
            TokenStream::new()
        }
    }
}

/// The field writes, sorted by frozen name (so declaration order does not
/// change the digest); duplicate names are an error.
fn field_writes(fields: &[FieldPlan], container: &str, errors: &mut Errors) -> TokenStream {
    let mut sorted: Vec<&FieldPlan> = fields.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for pair in sorted.windows(2) {
        if pair[0].name == pair[1].name {
            errors.at(
                pair[1].span,
                format!(
                    "two fields of `{container}` freeze as `{}`; rename one with \
                     #[freeze(rename = \"..\")]",
                    pair[1].name
                ),
            );
        }
    }
    sorted
        .iter()
        .map(|f| {
            let name = &f.name;
            if f.skip {
                return quote!(__s.skipped(#name););
            }
            let access = &f.access;
            match &f.with {
                Some(with) => quote!(__s.field_with(#name, |__f| #with(#access, __f));),
                None => quote!(__s.field(#name, #access);),
            }
        })
        .collect()
}
