//! Structured events of cache operations.
//!
//! Every operation emits a `tracing` event with target `charm::ops`; set
//! `CHARM_LOG=path` to also append them to `path` as JSON lines, with no
//! subscriber set up. `charm explain` reads that log. A value that reads
//! as a switch names no file: `0`, `false`, `off`, `no` or nothing log
//! nothing, and `1`, `true`, `on` or `yes` log nothing either, with a
//! warning that says to name the file.

use crate::SubKeys;
use charm_freeze::Digest;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// The kind of a cache operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Op {
    /// A call answered from the cache.
    Hit,
    /// A call that computed its value.
    Miss,
    /// An entry evicted to keep within the budget.
    Evict,
    /// Entries removed because a MATCH subkey changed.
    CascadingDelete,
    /// The persisted index was read.
    IndexRead,
    /// The index (or a delta record) was written.
    IndexWrite,
    /// An object that no entry refers to was removed.
    RemoveOrphan,
    /// Stored data failed verification and was discarded.
    Corrupt,
}

impl Op {
    /// The event's name, as in the JSON log.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Hit => "hit",
            Op::Miss => "miss",
            Op::Evict => "evict",
            Op::CascadingDelete => "cascading_delete",
            Op::IndexRead => "index_read",
            Op::IndexWrite => "index_write",
            Op::RemoveOrphan => "remove_orphan",
            Op::Corrupt => "corrupt",
        }
    }
}

/// One event, as written to the `CHARM_LOG` file (one JSON line each) and
/// read back by tools (`charm explain`).
///
/// ```
/// use charm_core::events::{read_log, Op};
/// let log = r#"{"ts":1.5,"pid":7,"op":"miss","name":"m::f"}
/// {"ts":2.0,"pid":7,"op":"evict","detail":"100 bytes"}
/// {"ts":3"#; // a torn last line is skipped
/// let events = read_log(log);
/// assert_eq!(events.len(), 2);
/// assert_eq!(events[0].op, Op::Miss);
/// assert_eq!(events[1].detail, "100 bytes");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Seconds since the Unix epoch.
    pub ts: f64,
    /// The process that emitted it.
    pub pid: u32,
    /// What happened.
    pub op: Op,
    /// The function's name, if the event concerns one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The five subkeys, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subkeys: Option<SubKeys>,
    /// The object key, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub obj: Option<Digest>,
    /// Free text (why, how many).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// The events of a `CHARM_LOG` file; lines that are not events (a torn
/// last line, an event of a newer charm) are skipped.
pub fn read_log(text: &str) -> Vec<Event> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The file `CHARM_LOG`'s value names, if any; a value that reads as a
/// switch turned on names none, and is an error to warn of (a file named
/// `1` in the working directory is not what it meant).
fn log_path(value: &std::ffi::OsStr) -> Result<Option<&std::ffi::OsStr>, String> {
    let switch = value.to_str().map(str::to_ascii_lowercase);
    match switch.as_deref() {
        Some("" | "0" | "false" | "off" | "no") => Ok(None),
        Some(on @ ("1" | "true" | "on" | "yes")) => Err(format!(
            "CHARM_LOG={on} names no file: set it to the file to log events to, \
             say CHARM_LOG=events.jsonl; events are not logged"
        )),
        _ => Ok(Some(value)),
    }
}

fn log_file() -> Option<&'static Mutex<File>> {
    static LOG: OnceLock<Option<Mutex<File>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let path = std::env::var_os("CHARM_LOG")?;
        let path = match log_path(&path) {
            Ok(path) => path?,
            Err(warning) => {
                warn_once("charm_log", &warning);
                return None;
            }
        };
        match OpenOptions::new().create(true).append(true).open(path) {
            Ok(f) => Some(Mutex::new(f)),
            Err(e) => {
                warn_once(
                    "charm_log",
                    &format!(
                        "cannot open CHARM_LOG file {}: {e}; events are not logged",
                        path.to_string_lossy()
                    ),
                );
                None
            }
        }
    })
    .as_ref()
}

/// Whether an event at debug level would go anywhere: a `tracing`
/// subscriber that wants `charm::ops`, or the `CHARM_LOG` file. What only
/// an event needs (a hit's object key, say) is computed only then.
pub(crate) fn wanted() -> bool {
    tracing::enabled!(target: "charm::ops", tracing::Level::DEBUG) || log_file().is_some()
}

/// Emits an event: through `tracing` (target `charm::ops`) and, when
/// `CHARM_LOG` is set, as one JSON line appended to that file.
pub fn emit(
    op: Op,
    name: Option<&str>,
    subkeys: Option<&SubKeys>,
    obj: Option<&Digest>,
    detail: &str,
) {
    let level_is_warn = op == Op::Corrupt;
    if level_is_warn {
        tracing::warn!(target: "charm::ops", op = op.as_str(), name, obj = obj.map(tracing::field::display), detail);
    } else {
        tracing::debug!(
            target: "charm::ops",
            op = op.as_str(),
            name,
            system = subkeys.map(|k| tracing::field::display(k.system)),
            function = subkeys.map(|k| tracing::field::display(k.name)),
            func_state = subkeys.map(|k| tracing::field::display(k.func_state)),
            args_key = subkeys.map(|k| tracing::field::display(k.args_key)),
            args_ver = subkeys.map(|k| tracing::field::display(k.args_ver)),
            obj = obj.map(tracing::field::display),
            detail,
        );
    }
    if let Some(file) = log_file() {
        let event = Event {
            ts: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0),
            pid: std::process::id(),
            op,
            name: name.map(str::to_owned),
            subkeys: subkeys.copied(),
            obj: obj.copied(),
            detail: detail.to_owned(),
        };
        if let Ok(mut line) = serde_json::to_vec(&event) {
            line.push(b'\n');
            let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
            let _ = f.write_all(&line);
        }
    }
}

/// Warns of a cache failure once per root cause: a store that cannot be
/// written (read-only, no permission, a full disk) is one cause, whichever
/// call or commit meets it first; any other failure is warned once per
/// `key`.
pub(crate) fn warn_failure(key: &str, err: &crate::Error, message: &str) {
    use std::io::ErrorKind as K;
    let cause = match err.io_kind() {
        Some(K::PermissionDenied | K::ReadOnlyFilesystem) => Some((
            "cache-not-writable",
            "the cache cannot be written (read-only or no permission): hits are \
             served, new values are computed and not kept",
        )),
        Some(K::StorageFull | K::QuotaExceeded) => Some((
            "cache-full",
            "the cache's disk is full: new values are computed and not kept",
        )),
        _ => None,
    };
    match cause {
        Some((cause, what)) => warn_once(cause, &format!("{what} (first: {message})")),
        None => warn_once(key, message),
    }
}

/// Warns once per `key` per process: through `tracing` (target `charm`),
/// and on stderr when no `tracing` subscriber is installed, so the warning
/// is seen without any setup.
pub fn warn_once(key: &str, message: &str) {
    static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
    {
        let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
        if seen.iter().any(|k| k == key) {
            return;
        }
        seen.push(key.to_owned());
    }
    tracing::warn!(target: "charm", "{message}");
    if !tracing::dispatcher::has_been_set() {
        eprintln!("charm warning: {message}");
    }
}

#[cfg(test)]
mod tests {
    use super::log_path;
    use std::ffi::OsStr;

    #[test]
    fn a_charm_log_that_reads_as_a_switch_names_no_file() {
        for off in ["", "0", "false", "OFF", "no"] {
            assert_eq!(log_path(OsStr::new(off)), Ok(None), "{off:?}");
        }
        for on in ["1", "true", "On", "yes"] {
            let warning = log_path(OsStr::new(on)).unwrap_err();
            assert!(warning.contains("names no file"), "{warning}");
        }
        for file in ["events.jsonl", "/tmp/0/log", "10"] {
            assert_eq!(log_path(OsStr::new(file)), Ok(Some(OsStr::new(file))));
        }
    }
}
