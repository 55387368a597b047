//! A crate's items, read from its source files: every function, method
//! (with its impl header), const, static, `macro_rules!`, type and trait,
//! each with its canonical token digest and what its code mentions, in a
//! tree of modules with their `use` declarations.

use crate::refs::{Collector, Refs};
use crate::tokens::digest;
use proc_macro2::TokenStream;
use quote::ToTokens;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use syn::visit::Visit;

/// What kind of thing an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Fn,
    /// A function or const of an inherent impl (with the impl's header).
    Method,
    /// A whole trait impl.
    TraitImpl,
    Const,
    Static,
    Macro,
    /// struct, enum, union or type alias.
    Type,
    Trait,
}

/// One item.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub(crate) kind: Kind,
    pub(crate) name: String,
    pub(crate) module: usize,
    pub(crate) file: PathBuf,
    /// Line of its name (functions and methods: where `#[memoize]` finds it).
    pub(crate) line: usize,
    pub(crate) digest: [u8; 32],
    pub(crate) refs: Refs,
    /// Marked `#[memoize]` or `#[freeze_fn]`, and not `auto_deps = false`.
    pub(crate) marked: bool,
    /// For methods and trait impls: the implementing type's path, and the
    /// trait's.
    pub(crate) self_ty: Option<Vec<String>>,
    pub(crate) trait_path: Option<Vec<String>>,
    /// For traits: the names of their methods.
    pub(crate) trait_methods: Vec<String>,
}

/// A `use` declaration, flattened: `alias` stands for `path` (`*` for a glob).
#[derive(Debug, Clone)]
pub(crate) struct Use {
    pub(crate) alias: String,
    pub(crate) path: Vec<String>,
}

/// One module.
#[derive(Debug, Clone, Default)]
pub(crate) struct Module {
    pub(crate) parent: Option<usize>,
    pub(crate) children: HashMap<String, usize>,
    pub(crate) items: HashMap<String, Vec<usize>>,
    pub(crate) uses: Vec<Use>,
}

/// A crate (or one target root of a package) as read from its files.
#[derive(Debug, Default)]
pub(crate) struct Crate {
    pub(crate) modules: Vec<Module>,
    pub(crate) items: Vec<Item>,
    /// Every file read.
    pub(crate) files: Vec<PathBuf>,
    /// Files that could not be read or parsed, and why.
    pub(crate) problems: Vec<String>,
}

/// Flattens a use tree into aliases.
pub(crate) fn flatten_use(tree: &syn::UseTree, mut prefix: Vec<String>, out: &mut Vec<Use>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten_use(&p.tree, prefix, out);
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            if name == "self" {
                if let Some(last) = prefix.last().cloned() {
                    out.push(Use {
                        alias: last,
                        path: prefix,
                    });
                }
            } else {
                prefix.push(name.clone());
                out.push(Use {
                    alias: name,
                    path: prefix,
                });
            }
        }
        syn::UseTree::Rename(r) => {
            prefix.push(r.ident.to_string());
            out.push(Use {
                alias: r.rename.to_string(),
                path: prefix,
            });
        }
        syn::UseTree::Glob(_) => out.push(Use {
            alias: "*".into(),
            path: prefix,
        }),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                flatten_use(t, prefix.clone(), out);
            }
        }
    }
}

/// Whether the attributes mark a function for charm, and not opted out.
fn marked(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        let last = a.path().segments.last().map(|s| s.ident.to_string());
        let ours = matches!(last.as_deref(), Some("memoize" | "freeze_fn"));
        let opted_out = match &a.meta {
            syn::Meta::List(l) => {
                let text: Vec<String> = l
                    .tokens
                    .clone()
                    .into_iter()
                    .map(|t| t.to_string())
                    .collect();
                text.windows(3)
                    .any(|w| w[0] == "auto_deps" && w[1] == "=" && w[2] == "false")
            }
            _ => false,
        };
        ours && !opted_out
    })
}

/// The path of a type, for matching impls (`&mut Foo<T>` → `Foo`).
fn type_path(ty: &syn::Type) -> Option<Vec<String>> {
    match ty {
        syn::Type::Path(p) => Some(
            p.path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect(),
        ),
        syn::Type::Reference(r) => type_path(&r.elem),
        syn::Type::Paren(p) => type_path(&p.elem),
        syn::Type::Group(g) => type_path(&g.elem),
        _ => None,
    }
}

fn refs_of<T: ToTokens>(node: &T, visit: impl FnOnce(&mut Collector, &T)) -> ([u8; 32], Refs) {
    (digest(node.to_token_stream()), Refs::of(node, visit))
}

impl Crate {
    /// Reads the crate whose root file is `root` (`src/lib.rs`, an example…).
    pub(crate) fn read(root: &Path) -> Crate {
        let mut c = Crate::default();
        c.modules.push(Module::default());
        c.read_file(root, 0, root.parent().unwrap_or(Path::new(".")).to_owned());
        c
    }

    /// Reads `file` as module `module`, whose `mod x;` children live in `dir`.
    fn read_file(&mut self, file: &Path, module: usize, dir: PathBuf) {
        self.files.push(file.to_owned());
        let parsed = std::fs::read_to_string(file)
            .map_err(|e| e.to_string())
            .and_then(|text| syn::parse_file(&text).map_err(|e| e.to_string()));
        match parsed {
            Ok(f) => self.read_items(&f.items, module, file, &dir),
            Err(e) => self.problems.push(format!("{}: {e}", file.display())),
        }
    }

    fn add(&mut self, module: usize, item: Item) {
        let id = self.items.len();
        self.modules[module]
            .items
            .entry(item.name.clone())
            .or_default()
            .push(id);
        self.items.push(item);
    }

    fn child(&mut self, module: usize, name: &str) -> usize {
        let id = self.modules.len();
        self.modules.push(Module {
            parent: Some(module),
            ..Module::default()
        });
        self.modules[module].children.insert(name.to_owned(), id);
        id
    }

    fn read_items(&mut self, items: &[syn::Item], module: usize, file: &Path, dir: &Path) {
        for it in items {
            let base = |kind, name: String, line, (digest, refs): ([u8; 32], Refs)| Item {
                kind,
                name,
                module,
                file: file.to_owned(),
                line,
                digest,
                refs,
                marked: false,
                self_ty: None,
                trait_path: None,
                trait_methods: Vec::new(),
            };
            let line = |id: &syn::Ident| id.span().start().line;
            // The whole item, named by `ident`.
            let whole = |kind, ident: &syn::Ident| {
                let refs = refs_of(it, |c, n| c.visit_item(n));
                base(kind, ident.to_string(), line(ident), refs)
            };
            match it {
                syn::Item::Fn(f) => {
                    let mut item = whole(Kind::Fn, &f.sig.ident);
                    item.marked = marked(&f.attrs);
                    self.add(module, item);
                    // Items inside the body (a memoized helper nested in a
                    // function) are items too, named in this module.
                    let nested: Vec<syn::Item> = f
                        .block
                        .stmts
                        .iter()
                        .filter_map(|s| match s {
                            syn::Stmt::Item(i) => Some(i.clone()),
                            _ => None,
                        })
                        .collect();
                    self.read_items(&nested, module, file, dir);
                }
                syn::Item::ExternCrate(x) => {
                    let alias = x.rename.as_ref().map_or(&x.ident, |(_, r)| r);
                    self.modules[module].uses.push(Use {
                        alias: alias.to_string(),
                        path: vec![x.ident.to_string()],
                    });
                }
                syn::Item::Const(x) => self.add(module, whole(Kind::Const, &x.ident)),
                syn::Item::Static(x) => self.add(module, whole(Kind::Static, &x.ident)),
                syn::Item::Struct(x) => self.add(module, whole(Kind::Type, &x.ident)),
                syn::Item::Enum(x) => self.add(module, whole(Kind::Type, &x.ident)),
                syn::Item::Union(x) => self.add(module, whole(Kind::Type, &x.ident)),
                syn::Item::Type(x) => self.add(module, whole(Kind::Type, &x.ident)),
                syn::Item::Trait(x) => {
                    let mut item = whole(Kind::Trait, &x.ident);
                    item.trait_methods = x
                        .items
                        .iter()
                        .filter_map(|ti| match ti {
                            syn::TraitItem::Fn(f) => Some(f.sig.ident.to_string()),
                            _ => None,
                        })
                        .collect();
                    self.add(module, item);
                }
                syn::Item::Macro(m) => {
                    if let Some(id) = &m.ident {
                        // The body's tokens, read as names resolved where
                        // the macro is defined.
                        let mut c = Collector::default();
                        c.tokens(m.mac.tokens.clone());
                        let item = base(
                            Kind::Macro,
                            id.to_string(),
                            line(id),
                            (digest(m.to_token_stream()), c.refs),
                        );
                        self.add(module, item);
                    } else {
                        // A macro call at item level: its names count for
                        // whatever it generates; kept as an unnamed item.
                        let item = base(
                            Kind::Macro,
                            String::new(),
                            0,
                            refs_of(m, |c, n| c.visit_item_macro(n)),
                        );
                        self.add(module, item);
                    }
                }
                syn::Item::Impl(imp) => self.read_impl(imp, module, file),
                syn::Item::Use(u) => {
                    flatten_use(&u.tree, Vec::new(), &mut self.modules[module].uses)
                }
                syn::Item::Mod(m) => self.read_mod(m, module, file, dir),
                _ => {}
            }
        }
    }

    fn read_impl(&mut self, imp: &syn::ItemImpl, module: usize, file: &Path) {
        let self_ty = type_path(&imp.self_ty);
        let trait_path = imp.trait_.as_ref().map(|(_, p, _)| {
            p.segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect::<Vec<_>>()
        });
        if trait_path.is_some() {
            // A trait impl is one item: its methods are reached through
            // the trait or the type, whatever calls them.
            let (digest, refs) = refs_of(imp, |c, n| c.visit_item_impl(n));
            let mut marked_fns = Vec::new();
            for ii in &imp.items {
                if let syn::ImplItem::Fn(f) = ii {
                    if marked(&f.attrs) {
                        marked_fns.push(f);
                    }
                }
            }
            self.add(
                module,
                Item {
                    kind: Kind::TraitImpl,
                    name: String::new(),
                    module,
                    file: file.to_owned(),
                    line: 0,
                    digest,
                    refs,
                    marked: false,
                    self_ty: self_ty.clone(),
                    trait_path: trait_path.clone(),
                    trait_methods: Vec::new(),
                },
            );
            for f in marked_fns {
                self.add_method(
                    imp,
                    f.to_token_stream(),
                    &f.sig.ident,
                    true,
                    module,
                    file,
                    &self_ty,
                    &trait_path,
                    |c| c.visit_impl_item_fn(f),
                );
            }
            return;
        }
        for ii in &imp.items {
            match ii {
                syn::ImplItem::Fn(f) => {
                    let marked = marked(&f.attrs);
                    self.add_method(
                        imp,
                        f.to_token_stream(),
                        &f.sig.ident,
                        marked,
                        module,
                        file,
                        &self_ty,
                        &None,
                        |c| c.visit_impl_item_fn(f),
                    );
                }
                syn::ImplItem::Const(k) => {
                    self.add_method(
                        imp,
                        k.to_token_stream(),
                        &k.ident,
                        false,
                        module,
                        file,
                        &self_ty,
                        &None,
                        |c| c.visit_impl_item_const(k),
                    );
                }
                _ => {}
            }
        }
    }

    /// A method with its impl's header (generics, trait, self type).
    #[allow(clippy::too_many_arguments)]
    fn add_method(
        &mut self,
        imp: &syn::ItemImpl,
        tokens: TokenStream,
        ident: &syn::Ident,
        marked: bool,
        module: usize,
        file: &Path,
        self_ty: &Option<Vec<String>>,
        trait_path: &Option<Vec<String>>,
        visit: impl FnOnce(&mut Collector),
    ) {
        let mut header = imp.clone();
        header.items.clear();
        header.attrs.clear();
        let mut all = header.to_token_stream();
        all.extend(tokens);
        let mut c = Collector::default();
        c.visit_item_impl(&header);
        visit(&mut c);
        self.add(
            module,
            Item {
                kind: Kind::Method,
                name: ident.to_string(),
                module,
                file: file.to_owned(),
                line: ident.span().start().line,
                digest: digest(all),
                refs: c.refs,
                marked,
                self_ty: self_ty.clone(),
                trait_path: trait_path.clone(),
                trait_methods: Vec::new(),
            },
        );
    }

    fn read_mod(&mut self, m: &syn::ItemMod, module: usize, file: &Path, dir: &Path) {
        let name = m.ident.to_string();
        let child = self.child(module, &name);
        let explicit = m.attrs.iter().find_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        });
        match &m.content {
            Some((_, items)) => {
                let sub = dir.join(&name);
                self.read_items(items, child, file, &sub);
            }
            None => {
                let candidates = match &explicit {
                    Some(p) => vec![file.parent().unwrap_or(dir).join(p)],
                    None => vec![
                        dir.join(format!("{name}.rs")),
                        dir.join(&name).join("mod.rs"),
                    ],
                };
                match candidates.iter().find(|p| p.is_file()) {
                    Some(path) => {
                        let is_mod_rs = path.file_name().is_some_and(|n| n == "mod.rs");
                        let sub = if is_mod_rs || explicit.is_some() {
                            path.parent().unwrap_or(dir).to_owned()
                        } else {
                            dir.join(&name)
                        };
                        self.read_file(&path.clone(), child, sub);
                    }
                    None => self.problems.push(format!(
                        "{}: no file for `mod {name};` (looked for {})",
                        file.display(),
                        candidates
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                }
            }
        }
    }
}
