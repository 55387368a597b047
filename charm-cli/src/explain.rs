//! `charm explain`: why each call in an event log missed.

use crate::cli::ExplainArgs;
use crate::duration::human;
use crate::output::print;
use crate::{CliError, CliResult};
use charm::events::{read_log, Event, Op};
use charm::SubKeys;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

pub(crate) fn explain(args: &ExplainArgs) -> CliResult<()> {
    let path: PathBuf =
        match (&args.log, std::env::var_os("CHARM_LOG")) {
            (Some(p), _) => p.clone(),
            (None, Some(p)) => p.into(),
            (None, None) => return Err(CliError::usage(
                "no event log: pass --log FILE, or set CHARM_LOG=FILE while the cached program \
                 runs and again for `charm explain`",
            )),
        };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| CliError::failed(format!("cannot read the log {}: {e}", path.display())))?;
    let events = read_log(&text);
    let report = report(&events, args.name.as_deref());
    if report.is_empty() {
        print(&format!(
            "no misses{} in {} ({} events)\n",
            args.name
                .as_deref()
                .map(|n| format!(" of names containing {n:?}"))
                .unwrap_or_default(),
            path.display(),
            events.len()
        ));
    } else {
        print(&report);
    }
    Ok(())
}

/// One paragraph per miss whose name contains `filter`.
fn report(events: &[Event], filter: Option<&str>) -> String {
    let mut out = String::new();
    for (i, ev) in events.iter().enumerate() {
        let (Some(name), Some(keys)) = (&ev.name, &ev.subkeys) else {
            continue;
        };
        if ev.op != Op::Miss || filter.is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let _ = writeln!(out, "{}  miss  {name}", time(ev.ts));
        let _ = writeln!(out, "  {}", why(ev, keys, &events[..i]));
    }
    out
}

/// Which subkey changed since the nearest earlier entry, in key order.
fn why(ev: &Event, keys: &SubKeys, earlier: &[Event]) -> String {
    let entries: Vec<(&Event, &SubKeys)> = earlier
        .iter()
        .filter(|e| matches!(e.op, Op::Hit | Op::Miss))
        .filter_map(|e| e.subkeys.as_ref().map(|k| (e, k)))
        .collect();
    let since = |e: &Event| format!("{} ({} earlier)", time(e.ts), ago(e.ts, ev.ts));
    // A log may mix groups (other stores, other picklers): system states
    // are compared within one function's entries only.
    let same_name: Vec<_> = entries
        .iter()
        .filter(|(_, k)| k.name == keys.name)
        .collect();
    let Some((latest, latest_keys)) = same_name.last() else {
        return "first call: no earlier entry of this name in the log".to_owned();
    };
    if latest_keys.system != keys.system {
        return format!(
            "the system state changed since the entry of {}: the group's extra_system_state, \
             its pickler, or charm's own formats; every entry of the group made before was \
             dropped",
            since(latest)
        );
    }
    let Some((entry, k)) = same_name
        .iter()
        .rev()
        .find(|(_, k)| k.args_key == keys.args_key)
    else {
        let code = if latest_keys.func_state != keys.func_state {
            " and the function state changed (its code; for a command, its binary or an --env value)"
        } else {
            ""
        };
        return format!(
            "new arguments: none of the {} earlier entries of this name had this argument key \
             (the last was at {}){code}",
            same_name.len(),
            since(latest)
        );
    };
    if k.func_state != keys.func_state {
        return format!(
            "the function state changed (its code; for a command, its binary or an --env value) \
             since the entry of {}",
            since(entry)
        );
    }
    if k.args_ver != keys.args_ver {
        return format!(
            "the argument versions changed (an input file's contents, --ver) since the entry \
             of {}",
            since(entry)
        );
    }
    removal(ev, keys, entry, earlier).unwrap_or_else(|| {
        format!(
            "same key as the entry of {}, which is gone: cleared (`charm clear`), or never \
             saved (did that process end abruptly?)",
            since(entry)
        )
    })
}

/// What removed the entry `ev` would have hit, after `entry` was seen.
fn removal(ev: &Event, keys: &SubKeys, entry: &Event, earlier: &[Event]) -> Option<String> {
    let removed = earlier
        .iter()
        .rev()
        .take_while(|e| e.ts >= entry.ts)
        .find(|e| {
            let same_obj = e.obj.is_some() && e.obj == ev.obj;
            match e.op {
                Op::Evict | Op::Corrupt => same_obj || e.subkeys.as_ref() == Some(keys),
                Op::CascadingDelete => e.subkeys.as_ref() == Some(keys),
                _ => false,
            }
        })?;
    let at = time(removed.ts);
    Some(match removed.op {
        Op::Evict => format!("same key as the entry of {}, which was evicted at {at} to keep the cache within its budget", time(entry.ts)),
        Op::Corrupt => format!("same key as the entry of {}, whose stored data was found corrupt at {at} ({}) and discarded", time(entry.ts), removed.detail),
        _ => format!("same key as the entry of {}, which was removed at {at}: {}", time(entry.ts), removed.detail),
    })
}

fn ago(then: f64, now: f64) -> String {
    human(Duration::try_from_secs_f64((now - then).max(0.0)).unwrap_or_default())
}

/// `2026-11-22 05:30:01` (UTC) from seconds since the Unix epoch.
fn time(ts: f64) -> String {
    let at = UNIX_EPOCH + Duration::from_secs(ts.max(0.0) as u64);
    // `2026-11-22T05:30:01Z`, shown with a space and without the zone.
    humantime::format_rfc3339_seconds(at)
        .to_string()
        .replacen('T', " ", 1)
        .trim_end_matches('Z')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use charm::freeze::hash;

    fn keys(system: u8, name: &str, func: u8, args: u8, ver: u8) -> SubKeys {
        SubKeys {
            system: hash(&system),
            name: hash(name),
            func_state: hash(&func),
            args_key: hash(&args),
            args_ver: hash(&ver),
        }
    }

    fn ev(ts: f64, op: Op, k: Option<SubKeys>, detail: &str) -> Event {
        Event {
            ts,
            pid: 1,
            op,
            name: k.map(|_| "f".to_owned()),
            subkeys: k,
            obj: k.map(|k| k.object_key()),
            detail: detail.into(),
        }
    }

    fn explained(events: &[Event]) -> String {
        let last = events.last().unwrap();
        why(
            last,
            last.subkeys.as_ref().unwrap(),
            &events[..events.len() - 1],
        )
    }

    #[test]
    fn names_the_first_subkey_that_changed() {
        let a = keys(1, "f", 1, 1, 1);
        let first = [ev(0.0, Op::Miss, Some(a), "")];
        assert!(explained(&first).starts_with("first call"));
        let ver = [
            ev(0.0, Op::Miss, Some(a), ""),
            ev(60.0, Op::Miss, Some(keys(1, "f", 1, 1, 2)), ""),
        ];
        let text = explained(&ver);
        assert!(text.contains("argument versions changed"), "{text}");
        assert!(
            text.contains("1970-01-01 00:00:00 (1.0 min earlier)"),
            "{text}"
        );
        let code = [
            ev(0.0, Op::Miss, Some(a), ""),
            ev(1.0, Op::Miss, Some(keys(1, "f", 2, 1, 1)), ""),
        ];
        assert!(explained(&code).contains("function state changed"));
        let args = [
            ev(0.0, Op::Miss, Some(a), ""),
            ev(1.0, Op::Miss, Some(keys(1, "f", 1, 2, 1)), ""),
        ];
        assert!(explained(&args).contains("new arguments"));
        let sys = [
            ev(0.0, Op::Miss, Some(a), ""),
            ev(1.0, Op::Miss, Some(keys(2, "f", 1, 1, 1)), ""),
        ];
        assert!(explained(&sys).contains("system state changed"));
        assert!(explained(&sys).contains("extra_system_state"));
        // Another group's entry (another system state, another function)
        // says nothing about this function's first call.
        let other_group = [
            ev(0.0, Op::Miss, Some(keys(9, "g", 1, 1, 1)), ""),
            ev(1.0, Op::Miss, Some(a), ""),
        ];
        assert!(explained(&other_group).contains("first call"));
    }

    #[test]
    fn an_identical_key_is_explained_by_what_removed_it() {
        let a = keys(1, "f", 1, 1, 1);
        let evicted = [
            ev(0.0, Op::Miss, Some(a), ""),
            Event {
                op: Op::Evict,
                name: None,
                subkeys: None,
                ..ev(5.0, Op::Evict, Some(a), "")
            },
            ev(9.0, Op::Miss, Some(a), ""),
        ];
        assert!(explained(&evicted).contains("evicted at 1970-01-01 00:00:05"));
        let invalidated = [
            ev(0.0, Op::Miss, Some(a), ""),
            ev(5.0, Op::CascadingDelete, Some(a), "traced input /x changed"),
            ev(9.0, Op::Miss, Some(a), ""),
        ];
        assert!(explained(&invalidated)
            .contains("removed at 1970-01-01 00:00:05: traced input /x changed"));
        let gone = [
            ev(0.0, Op::Hit, Some(a), ""),
            ev(9.0, Op::Miss, Some(a), ""),
        ];
        assert!(explained(&gone).contains("which is gone"));
    }

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(time(0.0), "1970-01-01 00:00:00");
        assert_eq!(time(951_782_400.0), "2000-02-29 00:00:00");
        assert_eq!(time(1_795_327_201.0), "2026-11-22 06:00:01");
    }

    #[test]
    fn torn_lines_are_skipped() {
        let log = "{\"ts\":1.0,\"pid\":1,\"op\":\"miss\"}\n{\"ts\":2";
        assert_eq!(read_log(log).len(), 1);
    }
}
