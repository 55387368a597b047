//! What one item's code mentions: paths, method names, macros, included
//! files, and `use` declarations inside its body.

use proc_macro2::{TokenStream, TokenTree};
use syn::punctuated::Punctuated;
use syn::visit::Visit;
use syn::{Expr, Token};

/// The names an item's code mentions, unresolved.
#[derive(Debug, Default, Clone)]
pub(crate) struct Refs {
    /// Every path, as its segments (`a::b::c`), types and expressions alike.
    pub(crate) paths: Vec<Vec<String>>,
    /// Names called as methods (`x.name(..)`).
    pub(crate) methods: Vec<String>,
    /// Names invoked as macros (`name!(..)`), last segment.
    pub(crate) macros: Vec<String>,
    /// String literals given to `include!`, `include_str!`, `include_bytes!`.
    pub(crate) includes: Vec<String>,
    /// `use` declarations inside the item (in function bodies).
    pub(crate) uses: Vec<crate::items::Use>,
}

impl Refs {
    /// The references of any syntax node.
    pub(crate) fn of<T: ?Sized>(node: &T, visit: impl FnOnce(&mut Collector, &T)) -> Refs {
        let mut c = Collector::default();
        visit(&mut c, node);
        c.refs
    }
}

/// A syn visitor that fills [`Refs`].
#[derive(Default)]
pub(crate) struct Collector {
    pub(crate) refs: Refs,
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segs: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        if !segs.is_empty() {
            self.refs.paths.push(segs);
        }
        syn::visit::visit_path(self, p);
    }

    fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
        self.refs.methods.push(m.method.to_string());
        syn::visit::visit_expr_method_call(self, m);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        if let Some(last) = m.path.segments.last() {
            let name = last.ident.to_string();
            if name.starts_with("include") {
                if let Ok(lit) = syn::parse2::<syn::LitStr>(m.tokens.clone()) {
                    self.refs.includes.push(lit.value());
                }
            }
            self.refs.macros.push(name);
        }
        self.visit_path(&m.path);
        // Arguments that parse as expressions (format!, vec!, assert!..)
        // are walked as code; anything else is read token by token.
        let parser = Punctuated::<Expr, Token![,]>::parse_terminated;
        match syn::parse::Parser::parse2(parser, m.tokens.clone()) {
            Ok(exprs) => exprs.iter().for_each(|e| self.visit_expr(e)),
            Err(_) => self.tokens(m.tokens.clone()),
        }
    }

    fn visit_attribute(&mut self, a: &'ast syn::Attribute) {
        // `#[derive(Serialize)]`, `#[serde(with = "..")]`: names in tokens.
        self.visit_path(a.path());
        if let syn::Meta::List(list) = &a.meta {
            self.tokens(list.tokens.clone());
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        crate::items::flatten_use(&u.tree, Vec::new(), &mut self.refs.uses);
    }
}

impl Collector {
    /// Reads unparsed tokens: `a::b` sequences are paths, `.name(` is a
    /// method call, `name!` a macro; any other identifier a one-segment path.
    pub(crate) fn tokens(&mut self, tokens: TokenStream) {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < trees.len() {
            match &trees[i] {
                TokenTree::Group(g) => self.tokens(g.stream()),
                TokenTree::Punct(p) if p.as_char() == '.' => {
                    if let (Some(TokenTree::Ident(id)), Some(TokenTree::Group(_))) =
                        (trees.get(i + 1), trees.get(i + 2))
                    {
                        self.refs.methods.push(id.to_string());
                    }
                }
                TokenTree::Ident(_) => {
                    let mut segs = Vec::new();
                    while let Some(TokenTree::Ident(id)) = trees.get(i) {
                        segs.push(id.to_string());
                        let colons = matches!(
                            (trees.get(i + 1), trees.get(i + 2)),
                            (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
                                if a.as_char() == ':' && b.as_char() == ':'
                        );
                        if !colons {
                            break;
                        }
                        i += 3;
                    }
                    if matches!(trees.get(i + 1), Some(TokenTree::Punct(p)) if p.as_char() == '!') {
                        if let Some(last) = segs.last() {
                            self.refs.macros.push(last.clone());
                        }
                    }
                    self.refs.paths.push(segs);
                }
                _ => {}
            }
            i += 1;
        }
    }
}
