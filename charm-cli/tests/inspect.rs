//! `charm stats`, `explain`, `gc`, `clear` and `plugins` on caches that
//! real `charm run` invocations filled.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{text, Scratch};

/// The path `charm run` files `sh` under.
fn sh() -> String {
    let path = std::env::var_os("PATH").unwrap();
    std::env::split_paths(&path)
        .map(|d| d.join("sh"))
        .find(|p| p.exists())
        .unwrap()
        .display()
        .to_string()
}

#[test]
fn stats_counts_entries_hits_and_misses_per_command() {
    let s = Scratch::new("stats");
    s.stdout(&["run", "--", "sh", "-c", "echo one"]);
    s.stdout(&["run", "--", "sh", "-c", "echo one"]);
    s.stdout(&["run", "--", "sh", "-c", "echo two"]);
    s.stdout(&["run", "--", "echo", "three"]);
    let table = s.stdout(&["stats"]);
    assert!(table.contains("3 entries"), "{table}");
    let row = table.lines().find(|l| l.starts_with(&sh())).unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[1], "2", "entries of sh: {row}");
    assert_eq!(
        (cells[4], cells[5]),
        ("1", "2"),
        "hits and misses of sh: {row}"
    );

    let json: serde_json::Value = serde_json::from_str(&s.stdout(&["stats", "--json"])).unwrap();
    assert_eq!(json["entries"], 3);
    let sh_stats = json["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == sh())
        .unwrap();
    assert_eq!(
        (sh_stats["hits"].as_u64(), sh_stats["misses"].as_u64()),
        (Some(1), Some(2))
    );
}

#[test]
fn explain_names_what_changed_and_when() {
    let s = Scratch::new("explain");
    std::fs::write(s.path("in.txt"), "v1").unwrap();
    let run = |arg: &str| {
        s.stdout(&[
            "run",
            "--input",
            "in.txt",
            "--",
            "sh",
            "-c",
            "cat in.txt",
            arg,
        ]);
    };
    run("a");
    run("a");
    std::fs::write(s.path("in.txt"), "v2").unwrap();
    run("a");
    run("b");
    let report = s.stdout(&["explain", "--log", "events.jsonl"]);
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 6, "three misses, two lines each:\n{report}");
    assert!(lines[0].contains(&format!("miss  {}", sh())), "{report}");
    assert!(lines[1].contains("first call"), "{report}");
    assert!(lines[3].contains("argument versions changed"), "{report}");
    assert!(lines[3].contains("earlier)"), "says when: {report}");
    assert!(lines[5].contains("new arguments"), "{report}");
    let filtered = s.stdout(&["explain", "--log", "events.jsonl", "no-such-name"]);
    assert!(filtered.starts_with("no misses"), "{filtered}");
}

#[test]
fn explain_reports_a_stale_ttl_recording() {
    let s = Scratch::new("explain-ttl");
    s.stdout(&["run", "--ttl", "1h", "--", "echo", "x"]);
    std::thread::sleep(std::time::Duration::from_millis(100));
    s.stdout(&["run", "--ttl", "50ms", "--", "echo", "x"]);
    let report = s.stdout(&["explain", "--log", "events.jsonl"]);
    assert!(report.contains("which was removed at"), "{report}");
    assert!(report.contains("not within --ttl"), "{report}");
}

#[test]
fn gc_removes_orphans_and_evicts_to_the_budget() {
    let s = Scratch::new("gc");
    s.stdout(&["run", "--", "echo", "kept"]);
    let orphan = s.path(
        "cache/obj/ab/abababababababababababababababababababababababababababababababab.charm",
    );
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, "left by a crash").unwrap();
    let out = s.stdout(&["gc"]);
    assert!(
        out.contains("removed 1 orphaned objects, evicted 0 entries; 1 entries"),
        "{out}"
    );
    assert!(!orphan.exists());
    let out = s.stdout(&["gc", "--max-size", "1"]);
    assert!(out.contains("evicted 1 entries; 0 entries"), "{out}");
}

#[test]
fn clear_empties_the_cache() {
    let s = Scratch::new("clear");
    let runs = s.path("runs");
    let script = format!("echo run >> {}", runs.display());
    s.stdout(&["run", "--", "sh", "-c", &script]);
    s.stdout(&["run", "--", "sh", "-c", &script]);
    assert!(s.stdout(&["clear"]).contains("cleared 1 entries"));
    assert!(s.stdout(&["stats"]).contains("0 entries"));
    s.stdout(&["run", "--", "sh", "-c", &script]);
    assert_eq!(std::fs::read_to_string(&runs).unwrap().lines().count(), 2);
}

#[test]
fn plugins_lists_every_kind() {
    let s = Scratch::new("plugins");
    let out = s.stdout(&["plugins"]);
    for expected in [
        "object store",
        "dir",
        "mem",
        "gdsize",
        "lru",
        "postcard",
        "file",
    ] {
        assert!(out.contains(expected), "{expected} missing:\n{out}");
    }
}

#[test]
fn looking_at_a_cache_that_does_not_exist_creates_none() {
    let s = Scratch::new("nocache");
    for cmd in [&["stats"][..], &["stats", "--json"], &["gc"], &["clear"]] {
        let out = s.charm(cmd);
        assert!(out.status.success(), "{cmd:?}: {}", text(&out.stderr));
        let said = text(&out.stdout) + &text(&out.stderr);
        assert!(said.contains("no cache at"), "{cmd:?}: {said}");
    }
    assert!(!s.path("cache").exists(), "nothing was created");
}

#[test]
fn the_default_cache_is_per_user_so_any_folder_hits() {
    let s = Scratch::new("xdg");
    let script = s.counted("echo shared");
    for folder in ["one", "two"] {
        std::fs::create_dir_all(s.path(folder)).unwrap();
        let out = s
            .command(&["run", "--", "sh", "-c", &script])
            .env_remove("CHARM_CACHE_DIR")
            .env("XDG_CACHE_HOME", s.path("xdg"))
            .current_dir(s.path(folder))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    assert_eq!(s.runs(), 1, "the run from the second folder hit");
    assert!(s.path("xdg/charm").is_dir());
    assert!(!s.path("one/.cache").exists());
}

#[test]
fn completions_and_the_manual_are_generated() {
    let s = Scratch::new("docs");
    let bash = s.stdout(&["completions", "bash"]);
    assert!(bash.contains("charm") && bash.contains("stats"), "{bash}");
    let zsh = s.stdout(&["completions", "zsh"]);
    assert!(zsh.contains("#compdef charm"), "{zsh}");
    let man = s.stdout(&["man"]);
    assert!(man.contains(".TH charm"), "{man}");
    assert!(
        man.contains("CHARM_STORE") || man.contains("store"),
        "{man}"
    );
}

#[test]
fn rust_log_prints_charms_events() {
    let s = Scratch::new("rustlog");
    let out = s
        .command(&["run", "--", "echo", "hi"])
        .env("RUST_LOG", "charm::ops=debug")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("op=\"miss\""), "{stderr}");
}
