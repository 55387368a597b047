//! `charm run` end to end: the real binary running real commands.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{text, Scratch};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[test]
fn a_hit_replays_binary_stdout_byte_for_byte() {
    let s = Scratch::new("binary");
    let script = s.counted("head -c 100000 /dev/urandom");
    let first = s.charm(&["run", "--", "sh", "-c", &script]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert_eq!(first.stdout.len(), 100_000);
    let second = s.charm(&["run", "--", "sh", "-c", &script]);
    assert_eq!(s.runs(), 1, "the second run replayed");
    assert_eq!(second.stdout, first.stdout, "random bytes replayed exactly");
}

#[test]
fn exit_code_and_stderr_are_replayed_and_failures_rerun_by_default() {
    let s = Scratch::new("failure");
    let script = s.counted("echo out; echo 'it broke' >&2; exit 3");
    for _ in 0..2 {
        let out = s.charm(&["run", "--", "sh", "-c", &script]);
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(text(&out.stderr), "it broke\n");
    }
    assert_eq!(s.runs(), 2, "a failing command is not recorded");
    for _ in 0..2 {
        let out = s.charm(&["run", "--cache-failures", "--", "sh", "-c", &script]);
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(text(&out.stdout), "out\n");
        assert_eq!(text(&out.stderr), "it broke\n");
    }
    assert_eq!(
        s.runs(),
        3,
        "with --cache-failures the failure was replayed"
    );
}

#[test]
fn stdout_and_stderr_keep_their_order() {
    let s = Scratch::new("order");
    let script = "echo 1; sleep 0.05; echo 2 >&2; sleep 0.05; echo 3";
    let run = || {
        s.command(&["run", "--", "sh", "-c", script])
            .stderr(Stdio::piped())
            .output()
            .unwrap()
    };
    let (a, b) = (run(), run());
    assert_eq!(
        (text(&a.stdout), text(&a.stderr)),
        ("1\n3\n".into(), "2\n".into())
    );
    assert_eq!((a.stdout, a.stderr), (b.stdout, b.stderr));
}

#[test]
fn arguments_key_and_stdin_are_part_of_the_key() {
    let s = Scratch::new("args");
    let script = s.counted("printf %s \"$0\"; cat");
    let with = |arg: &str, extra: &[&str], stdin: &[u8]| {
        let mut args = vec!["run"];
        args.extend_from_slice(extra);
        args.extend(["--", "sh", "-c", &script, arg]);
        let mut child = s
            .command(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        text(&child.wait_with_output().unwrap().stdout)
    };
    assert_eq!(with("a", &[], b"in1"), "ain1");
    assert_eq!(with("b", &[], b"in1"), "bin1");
    assert_eq!(s.runs(), 2, "another argument is another call");
    assert_eq!(with("a", &[], b"in1"), "ain1");
    assert_eq!(s.runs(), 2);
    assert_eq!(with("a", &[], b"in2"), "ain2");
    assert_eq!(s.runs(), 3, "another stdin is another call");
    assert_eq!(with("a", &["--key", "k2"], b"in1"), "ain1");
    assert_eq!(s.runs(), 4, "--key is part of the key");
}

#[test]
fn a_changed_input_or_env_value_reruns() {
    let s = Scratch::new("input");
    std::fs::write(s.path("in.txt"), "v1").unwrap();
    let script = s.counted("cat in.txt");
    let run = |mode: &str| {
        let args = [
            "run", "--input", "in.txt", "--env", "MODE", "--", "sh", "-c", &script,
        ];
        let out = s.command(&args).env("MODE", mode).output().unwrap();
        text(&out.stdout)
    };
    assert_eq!(run("fast"), "v1");
    assert_eq!(run("fast"), "v1");
    assert_eq!(s.runs(), 1);
    std::fs::write(s.path("in.txt"), "v2").unwrap();
    assert_eq!(run("fast"), "v2", "the edited input reran the command");
    assert_eq!(s.runs(), 2);
    assert_eq!(run("slow"), "v2");
    assert_eq!(s.runs(), 3, "another --env value reruns");
}

#[test]
fn a_deleted_output_is_restored_on_a_hit() {
    let s = Scratch::new("output");
    let script = s.counted("mkdir -p out; printf 'a\\0b' > out/data.bin; chmod 751 out/data.bin");
    let run = || s.charm(&["run", "--output", "out", "--", "sh", "-c", &script]);
    assert!(run().status.success());
    std::fs::remove_dir_all(s.path("out")).unwrap();
    assert!(run().status.success());
    assert_eq!(s.runs(), 1, "restored, not rerun");
    assert_eq!(std::fs::read(s.path("out/data.bin")).unwrap(), b"a\0b");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(s.path("out/data.bin"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o751, "permissions restored too");
}

#[test]
fn a_ttl_reruns_an_old_recording() {
    let s = Scratch::new("ttl");
    let script = s.counted("date +%N");
    let run = |ttl: &str| s.charm(&["run", "--ttl", ttl, "--", "sh", "-c", &script]);
    run("1h");
    run("1h");
    assert_eq!(s.runs(), 1);
    std::thread::sleep(std::time::Duration::from_millis(300));
    run("200ms");
    assert_eq!(s.runs(), 2, "older than the ttl: rerun");
}

#[test]
fn concurrent_identical_runs_execute_once() {
    let s = Scratch::new("concurrent");
    let script = s.counted("sleep 1; echo done");
    let children: Vec<_> = (0..4)
        .map(|_| {
            s.command(&["run", "--", "sh", "-c", &script])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(text(&out.stdout), "done\n");
    }
    assert_eq!(s.runs(), 1, "the others waited and replayed");
}

#[test]
fn a_corrupted_recording_is_rerun() {
    let s = Scratch::new("corrupt");
    let script = s.counted("echo fine");
    s.charm(&["run", "--", "sh", "-c", &script]);
    let mut objects = Vec::new();
    collect_files(&s.path("cache/obj"), &mut objects);
    assert!(!objects.is_empty());
    for o in objects {
        let mut bytes = std::fs::read(&o).unwrap();
        bytes[0] ^= 0xff;
        std::fs::write(&o, bytes).unwrap();
    }
    let out = s.charm(&["run", "--", "sh", "-c", &script]);
    assert_eq!(text(&out.stdout), "fine\n");
    assert_eq!(s.runs(), 2, "recomputed, not replayed wrong");
}

fn collect_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_files(&p, into);
        } else {
            into.push(p);
        }
    }
}

#[test]
fn errors_say_what_is_wrong_with_documented_codes() {
    let s = Scratch::new("errors");
    let missing = s.charm(&["run", "--", "no-such-command-here"]);
    assert_eq!(missing.status.code(), Some(127));
    assert!(text(&missing.stderr).contains("command not found: no-such-command-here"));
    let store = s.charm(&["run", "--store", "s4:bucket", "--", "true"]);
    assert_eq!(store.status.code(), Some(2));
    let err = text(&store.stderr);
    assert!(
        err.contains("\"s4\"") && err.contains("known schemes: dir, layered, mem"),
        "{err}"
    );
    let usage = s.charm(&["run", "--ttl", "soon", "--", "true"]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(text(&usage.stderr).contains("write it like"));
    std::fs::write(s.path("script"), "#!/bin/sh\n").unwrap();
    let not_exec = s.charm(&["run", "--", "./script"]);
    assert_eq!(not_exec.status.code(), Some(126));
}

/// Whether strace can trace here; CI (CHARM_REQUIRE_SERVICES=1) requires it.
fn strace_works() -> bool {
    let ok = Command::new("strace")
        .args(["-f", "-o", "/dev/null", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CHARM_REQUIRE_SERVICES").is_none(),
            "strace is missing or cannot trace here; ./scripts/test.sh installs it"
        );
        eprintln!("skipping: strace is missing or cannot trace here");
    }
    ok
}

#[test]
fn traced_inputs_and_outputs_need_no_declaration() {
    if !strace_works() {
        return;
    }
    let s = Scratch::new("trace");
    std::fs::create_dir_all(s.path("data")).unwrap();
    std::fs::write(s.path("data/in.txt"), "v1").unwrap();
    let script = "echo run >> runs; cat data/in.txt > result.txt; cat result.txt";
    let run = || s.charm(&["run", "--trace", "--", "sh", "-c", script]);
    let first = run();
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert_eq!(text(&first.stdout), "v1");
    std::fs::remove_file(s.path("result.txt")).unwrap();
    assert_eq!(text(&run().stdout), "v1");
    assert_eq!(s.runs(), 1, "a hit: nothing traced changed");
    assert_eq!(
        std::fs::read_to_string(s.path("result.txt")).unwrap(),
        "v1",
        "traced output restored"
    );
    std::fs::write(s.path("data/in.txt"), "v2").unwrap();
    assert_eq!(text(&run().stdout), "v2", "the traced input changed");
    assert_eq!(s.runs(), 2);
    assert_eq!(text(&run().stdout), "v2");
    assert_eq!(s.runs(), 2);
}

#[test]
fn a_reader_that_stops_early_does_not_cut_the_recording() {
    let s = Scratch::new("early-reader");
    let script = s.counted("seq 1 200000");
    let mut child = s
        .command(&["run", "--", "sh", "-c", &script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first_line = [0u8; 2];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first_line).unwrap();
    drop(child.stdout.take()); // like `| head -1`
    assert!(child.wait().unwrap().success());
    let replay = s.charm(&["run", "--", "sh", "-c", &script]);
    assert_eq!(s.runs(), 1, "the whole output was recorded");
    let lines = text(&replay.stdout).lines().count();
    assert_eq!(lines, 200_000);
}

#[test]
fn an_unusable_cache_runs_the_command_with_a_warning() {
    let s = Scratch::new("unusable");
    std::fs::write(s.path("not-a-dir"), "").unwrap();
    let out = s.charm(&[
        "run",
        "--store",
        "dir:not-a-dir/cache",
        "--",
        "sh",
        "-c",
        "echo ran; exit 4",
    ]);
    assert_eq!(out.status.code(), Some(4), "the command's own code");
    assert_eq!(text(&out.stdout), "ran\n");
    assert!(
        text(&out.stderr).contains("running the command without caching"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn output_larger_than_the_budget_is_streamed_but_not_recorded() {
    let s = Scratch::new("too-big");
    let script = s.counted("head -c 5000 /dev/zero");
    for _ in 0..2 {
        let out = s.charm(&[
            "run",
            "--verbose",
            "--max-size",
            "4 KiB",
            "--",
            "sh",
            "-c",
            &script,
        ]);
        assert_eq!(out.stdout.len(), 5000, "all of it reached stdout");
        assert!(
            text(&out.stderr).contains("larger than the cache's budget"),
            "{}",
            text(&out.stderr)
        );
    }
    assert_eq!(s.runs(), 2, "not recorded, so run again");
}

#[test]
fn charm_disable_runs_the_command_every_time_and_records_nothing() {
    let s = Scratch::new("disable");
    let script = s.counted("echo hello");
    for _ in 0..2 {
        let out = s
            .command(&["run", "--", "sh", "-c", &script])
            .env("CHARM_DISABLE", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "hello\n");
        assert!(out.stderr.is_empty(), "no warning: {}", text(&out.stderr));
    }
    assert_eq!(s.runs(), 2);
    let after = s.charm(&["run", "--", "sh", "-c", &script]);
    assert!(after.status.success());
    assert_eq!(s.runs(), 3, "nothing was recorded while disabled");
}

#[test]
fn the_budget_holds_after_every_run() {
    let s = Scratch::new("budget");
    for i in 0..8 {
        let script = format!("head -c 150 /dev/zero | tr '\\\\0' x; echo {i}");
        let out = s.charm(&["run", "--max-size", "600", "--", "sh", "-c", &script]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stats = s.stdout(&["stats", "--json", "--max-size", "600"]);
        let report: serde_json::Value = serde_json::from_str(&stats).unwrap();
        let bytes = report["bytes"].as_u64().unwrap();
        assert!(
            bytes <= 600,
            "after run {i}: {bytes} bytes of a 600-byte budget"
        );
    }
}
