//! The canonical digest of code: a walk of its tokens. Whitespace and
//! comments are not tokens; doc comments are `#[doc]` attributes and are
//! skipped; spans (line numbers) are ignored; a comma that only rustfmt
//! could have added or removed (before a closing bracket, or after a
//! `{ .. }` block) does not count. Nothing relies on
//! `TokenStream::to_string`, whose format is unstable.
//!
//! `#[memoize]` digests a function with it, and [`scan`](crate::scan)
//! every item a function reaches, so the two agree.

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};

/// The blake3 context of function-state digests, version 2 (version 1
/// counted rustfmt's commas).
const CONTEXT: &str = "charm 2026-11-29 function tokens v2";

/// The digest of a token stream, insensitive to layout, comments, docs and
/// rustfmt's optional commas.
///
/// ```
/// use std::str::FromStr;
/// let d = |s: &str| charm_build::digest(proc_macro2::TokenStream::from_str(s).unwrap());
/// assert_eq!(d("fn f(x: u8) -> u8 { x }"), d("fn f(\n    x: u8,\n) -> u8 {\n    x // same\n}"));
/// assert_ne!(d("fn f(x: u8) -> u8 { x }"), d("fn f(x: u8) -> u8 { x + 1 }"));
/// ```
pub fn digest(tokens: TokenStream) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key(CONTEXT);
    feed(tokens, &mut h);
    *h.finalize().as_bytes()
}

fn text(h: &mut blake3::Hasher, tag: u8, s: &str) {
    h.update(&[tag]);
    h.update(&(s.len() as u64).to_le_bytes());
    h.update(s.as_bytes());
}

/// Whether `tree` is the bracket group of a `#[doc ...]` attribute.
fn is_doc_attr(tree: &TokenTree) -> bool {
    match tree {
        TokenTree::Group(g) if g.delimiter() == Delimiter::Bracket => {
            matches!(g.stream().into_iter().next(), Some(TokenTree::Ident(i)) if i == "doc")
        }
        _ => false,
    }
}

/// Whether `trees[i]` is a comma rustfmt may add or remove: the last token
/// of a group, or one right after a `{ .. }` block (a match arm's).
fn is_optional_comma(trees: &[TokenTree], i: usize) -> bool {
    let TokenTree::Punct(p) = &trees[i] else {
        return false;
    };
    p.as_char() == ','
        && (i + 1 == trees.len()
            || matches!(i.checked_sub(1).map(|j| &trees[j]),
                Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace))
}

fn feed(tokens: TokenStream, h: &mut blake3::Hasher) {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut i = 0;
    while i < trees.len() {
        // `#[doc ..]` and `#![doc ..]`: skip the whole attribute.
        if let TokenTree::Punct(p) = &trees[i] {
            if p.as_char() == '#' {
                let inner =
                    matches!(trees.get(i + 1), Some(TokenTree::Punct(b)) if b.as_char() == '!');
                let at = if inner { i + 2 } else { i + 1 };
                if trees.get(at).is_some_and(is_doc_attr) {
                    i = at + 1;
                    continue;
                }
            }
        }
        if is_optional_comma(&trees, i) {
            i += 1;
            continue;
        }
        match &trees[i] {
            TokenTree::Group(g) => {
                let open = match g.delimiter() {
                    Delimiter::Parenthesis => b'(',
                    Delimiter::Brace => b'{',
                    Delimiter::Bracket => b'[',
                    Delimiter::None => b'0',
                };
                h.update(&[b'G', open]);
                feed(g.stream(), h);
                h.update(b"g");
            }
            TokenTree::Ident(id) => text(h, b'I', &id.to_string()),
            TokenTree::Punct(p) => {
                let joint = p.spacing() == Spacing::Joint;
                let mut buf = [0u8; 4];
                h.update(&[b'P', joint as u8]);
                h.update(p.as_char().encode_utf8(&mut buf).as_bytes());
            }
            TokenTree::Literal(l) => text(h, b'L', &l.to_string()),
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::digest;
    use std::str::FromStr;

    fn d(src: &str) -> [u8; 32] {
        digest(proc_macro2::TokenStream::from_str(src).unwrap())
    }

    #[test]
    fn layout_comments_and_docs_do_not_count() {
        let base = d("fn f(x: u32) -> u32 { x * 2 }");
        assert_eq!(base, d("fn f(x: u32)\n  -> u32 {\n    x * 2 // doubled\n}"));
        assert_eq!(
            base,
            d("/// Doubles.\nfn f(x: u32) -> u32 { /* here */ x * 2 }")
        );
        assert_eq!(
            base,
            d("#[doc = \"Doubles.\"] fn f(x: u32) -> u32 { x * 2 }")
        );
        assert_eq!(base, d("fn f(x: u32) -> u32 { //! inner doc\n x * 2 }"));
    }

    #[test]
    fn rustfmt_commas_do_not_count() {
        assert_eq!(d("fn f(a: u8, b: u8) {}"), d("fn f(a: u8, b: u8,) {}"));
        assert_eq!(d("S { a: 1, b: 2 }"), d("S { a: 1, b: 2, }"));
        assert_eq!(
            d("match x { A => { 1 }, B => 2 }"),
            d("match x { A => { 1 } B => 2, }")
        );
        assert_ne!(d("f(a, b)"), d("f(a b)"), "a comma between values counts");
    }

    #[test]
    fn code_changes_count() {
        let base = d("fn f(x: u32) -> u32 { x * 2 }");
        assert_ne!(base, d("fn f(x: u32) -> u32 { x * 3 }"));
        assert_ne!(base, d("fn f(x: u64) -> u64 { x * 2 }"));
        assert_ne!(base, d("fn f(x: u32) -> u32 { (x * 2) }"));
        assert_ne!(base, d("#[inline] fn f(x: u32) -> u32 { x * 2 }"));
        assert_ne!(d("fn f() { a - > b }"), d("fn f() { a -> b }"));
        assert_ne!(d("fn f() { \"a\" }"), d("fn f() { \"b\" }"));
    }
}
