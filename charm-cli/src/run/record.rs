//! What is cached for one run of a command, and when it is stale.

use super::capture::Chunk;
use super::files::{listing_version, version, OutputFile, PathBytes};
use crate::duration::human;
use charm::freeze::Digest;
use charm::Comparison;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One recorded run: everything a hit replays, and what it was run against.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Recording {
    pub(crate) exit_code: i32,
    /// stdout and stderr, in the order they were written.
    pub(crate) output: Vec<Chunk>,
    /// `--output` files and, with `--trace`, the files the command wrote.
    pub(crate) files: Vec<OutputFile>,
    /// With `--trace`: the inputs found while running, and their versions then.
    pub(crate) traced: Vec<TracedInput>,
    /// How the traced versions were read.
    pub(crate) comparison: Comparison,
    /// When the command ran, in milliseconds since the Unix epoch.
    pub(crate) recorded_at_ms: u64,
    /// How long it ran.
    pub(crate) elapsed: Duration,
}

/// An input `--trace` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TracedInput {
    pub(crate) path: PathBytes,
    /// Only the names in this directory were read.
    pub(crate) listing: bool,
    pub(crate) version: Digest,
}

impl TracedInput {
    pub(crate) fn now(path: &Path, listing: bool, comparison: Comparison) -> Self {
        TracedInput {
            path: PathBytes::new(path),
            listing,
            version: current(path, listing, comparison),
        }
    }
}

fn current(path: &Path, listing: bool, comparison: Comparison) -> Digest {
    if listing {
        listing_version(path)
    } else {
        version(path, comparison)
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Recording {
    /// Why this recording may no longer be replayed, if so: it is older
    /// than `ttl`, or a traced input changed.
    pub(crate) fn stale(&self, ttl: Option<Duration>) -> Option<String> {
        if let Some(ttl) = ttl {
            let age = Duration::from_millis(now_ms().saturating_sub(self.recorded_at_ms));
            if age >= ttl {
                return Some(format!(
                    "recorded {} ago, which is not within --ttl {}",
                    human(age),
                    human(ttl)
                ));
            }
        }
        self.traced.iter().find_map(|t| {
            let path = t.path.path();
            (current(&path, t.listing, self.comparison) != t.version)
                .then(|| format!("traced input {} changed", path.display()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::capture::Stream;
    use proptest::prelude::*;

    fn sample() -> Vec<u8> {
        let recording = Recording {
            exit_code: 3,
            output: vec![Chunk {
                stream: Stream::Stderr,
                bytes: b"oops\n".to_vec(),
            }],
            files: vec![OutputFile {
                path: PathBytes::new(Path::new("out/a.txt")),
                mode: 0o644,
                contents: b"data".to_vec(),
            }],
            traced: vec![TracedInput {
                path: PathBytes::new(Path::new("/definitely/missing")),
                listing: false,
                version: charm::freeze::hash(&"v"),
            }],
            comparison: Comparison::Blake3,
            recorded_at_ms: 5,
            elapsed: Duration::from_millis(7),
        };
        postcard::to_stdvec(&recording).unwrap()
    }

    proptest! {
        /// A recording is read from the cache, which anyone who can write
        /// it could have crafted: decoding and judging it never panics.
        #[test]
        fn crafted_recordings_never_panic(
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
            cut in any::<usize>(),
        ) {
            let mut bytes = sample();
            for (at, b) in edits {
                let i = at % bytes.len();
                bytes[i] = b;
            }
            bytes.truncate(cut % (bytes.len() + 1));
            if let Ok(r) = postcard::from_bytes::<Recording>(&bytes) {
                let _ = r.stale(Some(Duration::from_secs(1)));
            }
        }
    }
}
