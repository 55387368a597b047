//! A scratch folder for end-to-end tests of the `charm` binary: it holds
//! the cache, the event log, the commands' files and a run counter.

// Each test binary uses part of this.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

pub(crate) struct Scratch {
    pub(crate) dir: PathBuf,
}

impl Scratch {
    pub(crate) fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("charm-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch { dir }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `charm ARGS` in the scratch folder, with its own cache and event log
    /// and an empty stdin.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_charm"));
        c.current_dir(&self.dir)
            .env_remove("CHARM_STORE")
            .env("CHARM_CACHE_DIR", self.path("cache"))
            .env("CHARM_LOG", self.path("events.jsonl"))
            .args(args)
            .stdin(Stdio::null());
        c
    }

    pub(crate) fn charm(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// The stdout of `charm ARGS`, which must succeed.
    pub(crate) fn stdout(&self, args: &[&str]) -> String {
        let out = self.charm(args);
        assert!(
            out.status.success(),
            "charm {args:?}: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// A shell command that counts its runs in `runs` and then does `script`.
    pub(crate) fn counted(&self, script: &str) -> String {
        format!("echo run >> {}; {script}", self.path("runs").display())
    }

    pub(crate) fn runs(&self) -> usize {
        std::fs::read_to_string(self.path("runs"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
