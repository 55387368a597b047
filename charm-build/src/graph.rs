//! Which items a function's code reaches: names resolved through `use`
//! declarations and module scopes, method names matched only against the
//! impls of types the function reaches, trait impls of reached types and
//! traits, and the `macro_rules!` it invokes. Where a path cannot be
//! resolved, every item of the crate with its last name is taken: the
//! closure may be too large (a needless miss), never too small.

use crate::items::{Crate, Kind};
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap, HashSet};

/// What a name stands for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Node {
    Item(usize),
    Module(usize),
    /// An external crate, by the name the code uses.
    External(String),
}

/// What one function reaches.
#[derive(Debug, Default)]
pub(crate) struct Closure {
    pub(crate) items: BTreeSet<usize>,
    pub(crate) externals: BTreeSet<String>,
    /// `(file the macro was in, literal)` of `include!`-like macros.
    pub(crate) includes: BTreeSet<(std::path::PathBuf, String)>,
}

/// Resolution over one crate.
pub(crate) struct Graph<'c> {
    krate: &'c Crate,
    externals: &'c HashSet<String>,
    /// Items by name, crate-wide (for the conservative fallback).
    by_name: HashMap<&'c str, Vec<usize>>,
    /// Methods and trait impls per implementing type item.
    impls_of_type: HashMap<usize, Vec<usize>>,
    /// Trait impls per trait item.
    impls_of_trait: HashMap<usize, Vec<usize>>,
    /// The crate's traits that declare a method, by its name.
    traits_by_method: HashMap<&'c str, Vec<usize>>,
    /// `lookup` results (`None` while one is being computed: a cycle of
    /// glob imports resolves to nothing).
    lookups: RefCell<HashMap<(usize, String), Lookup>>,
    /// Each item's references, resolved once for every closure.
    edges: RefCell<HashMap<usize, std::rc::Rc<Vec<Node>>>>,
}

const DEPTH: usize = 16;

/// A cached lookup: `None` while it is being computed.
type Lookup = Option<Vec<Node>>;

impl<'c> Graph<'c> {
    pub(crate) fn new(krate: &'c Crate, externals: &'c HashSet<String>) -> Self {
        let mut g = Graph {
            krate,
            externals,
            by_name: HashMap::new(),
            impls_of_type: HashMap::new(),
            impls_of_trait: HashMap::new(),
            traits_by_method: HashMap::new(),
            lookups: RefCell::new(HashMap::new()),
            edges: RefCell::new(HashMap::new()),
        };
        for (id, it) in krate.items.iter().enumerate() {
            if !it.name.is_empty() {
                g.by_name.entry(it.name.as_str()).or_default().push(id);
            }
            for m in &it.trait_methods {
                g.traits_by_method.entry(m.as_str()).or_default().push(id);
            }
        }
        for (id, it) in krate.items.iter().enumerate() {
            if let Some(ty) = &it.self_ty {
                for t in g.resolve(it.module, ty, &[], 0) {
                    if let Node::Item(t) = t {
                        g.impls_of_type.entry(t).or_default().push(id);
                    }
                }
            }
            if let (Kind::TraitImpl, Some(tr)) = (it.kind, &it.trait_path) {
                for t in g.resolve(it.module, tr, &[], 0) {
                    if let Node::Item(t) = t {
                        g.impls_of_trait.entry(t).or_default().push(id);
                    }
                }
            }
        }
        g
    }

    /// Looks `name` up in `module`: its items, child modules, `use`
    /// aliases, then glob imports.
    fn lookup(&self, module: usize, name: &str, depth: usize) -> Vec<Node> {
        let key = (module, name.to_owned());
        if let Some(known) = self.lookups.borrow().get(&key) {
            return known.clone().unwrap_or_default();
        }
        self.lookups.borrow_mut().insert(key.clone(), None);
        let found = self.lookup_uncached(module, name, depth);
        self.lookups.borrow_mut().insert(key, Some(found.clone()));
        found
    }

    fn lookup_uncached(&self, module: usize, name: &str, depth: usize) -> Vec<Node> {
        let m = &self.krate.modules[module];
        let mut out: Vec<Node> = m
            .items
            .get(name)
            .into_iter()
            .flatten()
            .map(|&i| Node::Item(i))
            .collect();
        if let Some(&child) = m.children.get(name) {
            out.push(Node::Module(child));
        }
        for u in m.uses.iter().filter(|u| u.alias == name) {
            out.extend(self.resolve(module, &u.path, &[], depth + 1));
        }
        if out.is_empty() {
            for u in m.uses.iter().filter(|u| u.alias == "*") {
                for n in self.resolve(module, &u.path, &[], depth + 1) {
                    if let Node::Module(g) = n {
                        if depth < DEPTH {
                            out.extend(self.lookup(g, name, depth + 1));
                        }
                    }
                }
            }
        }
        out
    }

    /// Resolves a path written in `module` (with `local` uses of the
    /// enclosing function). Unknown first names (locals, generics, the
    /// prelude) resolve to nothing; an in-crate path that breaks off falls
    /// back to every item with its last name.
    fn resolve(
        &self,
        module: usize,
        path: &[String],
        local: &[crate::items::Use],
        depth: usize,
    ) -> Vec<Node> {
        let Some((first, rest)) = path.split_first() else {
            return Vec::new();
        };
        if depth > DEPTH {
            return Vec::new();
        }
        let start: Vec<Node> = match first.as_str() {
            "crate" => vec![Node::Module(0)],
            "self" => vec![Node::Module(module)],
            "super" => self.krate.modules[module]
                .parent
                .map(Node::Module)
                .into_iter()
                .collect(),
            "Self" => return Vec::new(), // the impl header is in the item
            name => {
                let mut found: Vec<Node> = local
                    .iter()
                    .filter(|u| u.alias == name)
                    .flat_map(|u| self.resolve(module, &u.path, &[], depth + 1))
                    .collect();
                if found.is_empty() {
                    found = self.lookup(module, name, depth);
                }
                if found.is_empty() && self.externals.contains(name) {
                    found.push(Node::External(name.to_owned()));
                }
                found
            }
        };
        let mut current = start;
        for seg in rest {
            let mut next = Vec::new();
            for n in &current {
                match n {
                    Node::Module(m) => next.extend(self.lookup(*m, seg, depth + 1)),
                    Node::Item(it) => {
                        // `Type::assoc`: the type, and its methods of that name.
                        next.push(Node::Item(*it));
                        for &imp in self.impls_of_type.get(it).into_iter().flatten() {
                            let item = &self.krate.items[imp];
                            if item.name == *seg || item.kind == Kind::TraitImpl {
                                next.push(Node::Item(imp));
                            }
                        }
                    }
                    Node::External(e) => next.push(Node::External(e.clone())),
                }
            }
            if next.is_empty() && !current.is_empty() {
                // Broke off inside the crate: take every item so named.
                let last = &path[path.len() - 1];
                return self
                    .by_name
                    .get(last.as_str())
                    .into_iter()
                    .flatten()
                    .map(|&i| Node::Item(i))
                    .collect();
            }
            current = next;
        }
        current
    }

    /// What item `id`'s paths resolve to.
    fn edges(&self, id: usize) -> std::rc::Rc<Vec<Node>> {
        if let Some(e) = self.edges.borrow().get(&id) {
            return e.clone();
        }
        let item = &self.krate.items[id];
        let mut nodes: Vec<Node> = Vec::new();
        let mut seen = HashSet::new();
        for p in &item.refs.paths {
            // `Self::X` in an impl is the implementing type's `X`.
            let p = match (p.first().map(String::as_str), &item.self_ty) {
                (Some("Self"), Some(ty)) => ty.iter().chain(&p[1..]).cloned().collect(),
                _ => p.clone(),
            };
            for n in self.resolve(item.module, &p, &item.refs.uses, 0) {
                if seen.insert(n.clone()) {
                    nodes.push(n);
                }
            }
        }
        let nodes = std::rc::Rc::new(nodes);
        self.edges.borrow_mut().insert(id, nodes.clone());
        nodes
    }

    /// Everything `root` reaches.
    pub(crate) fn closure(&self, root: usize) -> Closure {
        let mut out = Closure::default();
        let mut types: HashSet<usize> = HashSet::new();
        let mut methods: HashSet<&str> = HashSet::new();
        let mut todo = vec![root];
        out.items.insert(root);
        while let Some(id) = todo.pop() {
            let item = &self.krate.items[id];
            let mut reach = |n: usize, todo: &mut Vec<usize>| {
                if out.items.insert(n) {
                    todo.push(n);
                }
            };
            for n in self.edges(id).iter() {
                match n {
                    Node::Item(i) => reach(*i, &mut todo),
                    Node::External(e) => {
                        out.externals.insert(e.clone());
                    }
                    Node::Module(_) => {}
                }
            }
            for m in &item.refs.macros {
                for &i in self.by_name.get(m.as_str()).into_iter().flatten() {
                    if self.krate.items[i].kind == Kind::Macro {
                        reach(i, &mut todo);
                    }
                }
            }
            for inc in &item.refs.includes {
                out.includes.insert((item.file.clone(), inc.clone()));
            }
            let new_methods: Vec<&str> = item
                .refs
                .methods
                .iter()
                .map(String::as_str)
                .filter(|m| methods.insert(m))
                .collect();
            if matches!(item.kind, Kind::Type | Kind::Trait) {
                types.insert(id);
                // Trait impls of a reached type or trait, and the methods
                // of the type already called by name.
                let impls = self.impls_of_type.get(&id).into_iter().flatten();
                for &imp in impls.chain(self.impls_of_trait.get(&id).into_iter().flatten()) {
                    let it = &self.krate.items[imp];
                    if it.kind == Kind::TraitImpl || methods.contains(it.name.as_str()) {
                        reach(imp, &mut todo);
                    }
                }
            }
            // Newly called names: the methods of every reached type so
            // named, and the traits that declare one (with their impls,
            // even for types outside the crate).
            for m in new_methods {
                for &tr in self.traits_by_method.get(m).into_iter().flatten() {
                    reach(tr, &mut todo);
                }
                for t in &types {
                    for &imp in self.impls_of_type.get(t).into_iter().flatten() {
                        if self.krate.items[imp].name == m {
                            reach(imp, &mut todo);
                        }
                    }
                }
            }
        }
        out
    }
}
