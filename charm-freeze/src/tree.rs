//! The explain-mode sink: builds a `Frozen` tree instead of hashing.

use crate::{hash, Frozen};

/// The nodes (and field names) written inside one composite value.
#[derive(Default)]
pub(crate) struct Frame {
    pub(crate) nodes: Vec<Frozen>,
    pub(crate) names: Vec<String>,
    pub(crate) skipped: Vec<String>,
}

impl Frame {
    /// The one node written in this frame (`()` if a misbehaving writer
    /// wrote none).
    pub(crate) fn single(self) -> Frozen {
        self.nodes.into_iter().next().unwrap_or(Frozen::Unit)
    }

    /// The named fields and the skipped field names.
    pub(crate) fn fields(self) -> (Vec<(String, Frozen)>, Vec<String>) {
        (
            self.names.into_iter().zip(self.nodes).collect(),
            self.skipped,
        )
    }
}

pub(crate) struct TreeBuilder {
    frames: Vec<Frame>,
}

impl TreeBuilder {
    pub(crate) fn new() -> Self {
        TreeBuilder {
            frames: vec![Frame::default()],
        }
    }

    fn top(&mut self) -> &mut Frame {
        if self.frames.is_empty() {
            self.frames.push(Frame::default());
        }
        let last = self.frames.len() - 1;
        &mut self.frames[last]
    }

    pub(crate) fn push(&mut self, node: Frozen) {
        self.top().nodes.push(node);
    }

    pub(crate) fn name(&mut self, name: &str) {
        self.top().names.push(name.to_owned());
    }

    pub(crate) fn skipped(&mut self, name: &str) {
        self.top().skipped.push(name.to_owned());
    }

    pub(crate) fn open(&mut self) {
        self.frames.push(Frame::default());
    }

    pub(crate) fn close(&mut self) -> Frame {
        if self.frames.len() > 1 {
            self.frames.pop().unwrap_or_default()
        } else {
            Frame::default()
        }
    }

    pub(crate) fn finish(mut self) -> Frozen {
        self.frames.truncate(1);
        self.frames.pop().unwrap_or_default().single()
    }
}

/// Orders set elements and map entries as the hash does: by digest.
pub(crate) fn sort_by_digest(nodes: Vec<Frozen>) -> Vec<Frozen> {
    let mut keyed: Vec<_> = nodes.into_iter().map(|n| (hash(&n), n)).collect();
    keyed.sort_by_key(|(digest, _)| *digest);
    keyed.into_iter().map(|(_, n)| n).collect()
}
