//! `charm stats`: what the cache holds and what it saved, per command.

use crate::cli::StatsArgs;
use crate::duration::human;
use crate::output::{bytes, print, table};
use crate::{store, CliError, CliResult};
use serde::Serialize;

#[derive(Debug, Serialize)]
struct Report {
    store: String,
    entries: u64,
    bytes: u64,
    budget: u64,
    functions: Vec<FunctionReport>,
}

#[derive(Debug, Serialize)]
struct FunctionReport {
    name: String,
    entries: u64,
    bytes: u64,
    hits: u64,
    misses: u64,
    time_saved_secs: f64,
    time_cost_secs: f64,
}

fn print_json(report: &Report) -> CliResult<()> {
    let text = serde_json::to_string_pretty(report)
        .map_err(|e| CliError::failed(format!("cannot write JSON: {e}")))?;
    print(&format!("{text}\n"));
    Ok(())
}

pub(crate) fn stats(args: &StatsArgs) -> CliResult<()> {
    if let Some(dir) = store::missing_folder(&args.cache) {
        // Looking creates nothing.
        eprintln!("charm: no cache at {} yet", dir.display());
        let empty = Report {
            store: format!("dir:{}", dir.display()),
            entries: 0,
            bytes: 0,
            budget: 0,
            functions: Vec::new(),
        };
        return match args.json {
            true => print_json(&empty),
            false => Ok(()),
        };
    }
    let group = store::open_group(&args.cache, store::Access::Whole)?;
    let usage = group.usage();
    let report = Report {
        store: group.describe(),
        entries: usage.entries,
        bytes: usage.bytes,
        budget: usage.budget,
        functions: usage
            .functions
            .into_iter()
            .map(|f| FunctionReport {
                name: f.name,
                entries: f.entries,
                bytes: f.bytes,
                hits: f.usage.hits,
                misses: f.usage.misses,
                time_saved_secs: f.usage.time_saved.as_secs_f64(),
                time_cost_secs: f.usage.time_cost.as_secs_f64(),
            })
            .collect(),
    };
    if args.json {
        return print_json(&report);
    }
    print(&format!(
        "{}: {} entries, {} of {} ({:.1}%)\n",
        report.store,
        report.entries,
        bytes(report.bytes),
        bytes(report.budget),
        percent(report.bytes, report.budget)
    ));
    if report.functions.is_empty() {
        return Ok(());
    }
    let mut rows = vec![[
        "command or function",
        "entries",
        "bytes",
        "hits",
        "misses",
        "saved",
        "cost",
    ]
    .map(String::from)
    .to_vec()];
    for f in &report.functions {
        rows.push(vec![
            f.name.clone(),
            f.entries.to_string(),
            bytes(f.bytes),
            f.hits.to_string(),
            f.misses.to_string(),
            human(std::time::Duration::from_secs_f64(f.time_saved_secs)),
            human(std::time::Duration::from_secs_f64(f.time_cost_secs)),
        ]);
    }
    print(&format!("\n{}", table(&rows, 1)));
    Ok(())
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}
