//! What a group and its functions report: hits, misses, time saved and
//! spent on caching, entries and bytes.

use super::{Engine, MemoizedGroup};
use crate::entry::FunctionStats;
use std::collections::HashMap;
use std::time::Duration;

/// Usage figures of one function, as [`Memoized::usage`](crate::Memoized::usage) reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Calls answered from the cache.
    pub hits: u64,
    /// Calls that computed.
    pub misses: u64,
    /// Time spent on caching (hashing, reading, writing): the price. A
    /// hit's is measured on one hit in eight, picked at random, and
    /// counted eight times (reading the clock took a twentieth of a tiny
    /// hit): over many hits, an estimate without bias.
    pub time_cost: Duration,
    /// Computation time that hits avoided: the gain.
    pub time_saved: Duration,
}

impl Usage {
    /// `name: 3 hits, 1 misses, 2.000 s saved, 0.001 s spent on caching`.
    pub(crate) fn line(&self, name: &str) -> String {
        format!(
            "{name}: {} hits, {} misses, {:.3} s saved, {:.3} s spent on caching",
            self.hits,
            self.misses,
            self.time_saved.as_secs_f64(),
            self.time_cost.as_secs_f64()
        )
    }
}

impl From<FunctionStats> for Usage {
    fn from(s: FunctionStats) -> Self {
        Usage {
            hits: s.hits,
            misses: s.misses,
            time_cost: Duration::from_nanos(s.time_cost_ns),
            time_saved: Duration::from_nanos(s.time_saved_ns),
        }
    }
}

/// One function's line in [`GroupUsage`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionUsage {
    /// Its name.
    pub name: String,
    /// Its entries now in the index.
    pub entries: u64,
    /// Bytes they count against the budget.
    pub bytes: u64,
    /// Its usage totals (all processes, all runs).
    pub usage: Usage,
}

/// What a group holds, as [`MemoizedGroup::usage`] reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupUsage {
    /// Entries in the index.
    pub entries: u64,
    /// Bytes they count against the budget.
    pub bytes: u64,
    /// The budget.
    pub budget: u64,
    /// Per function, sorted by name.
    pub functions: Vec<FunctionUsage>,
}

impl MemoizedGroup {
    /// Each function's usage (hits, misses, time saved and spent on
    /// caching), one line each, with the totals: what `report(true)` or
    /// `CHARM_REPORT=1` prints at exit.
    ///
    /// ```
    /// # use charm_stores as _; use charm_policies as _; use charm_locks as _;
    /// use charm_core::{Memoized, MemoizedGroup};
    /// let group = MemoizedGroup::builder().temporary(true).build().unwrap();
    /// let f: Memoized<u8> = Memoized::builder("doc::f").group(group.clone()).build();
    /// f.call(&1u8, || 2);
    /// f.call(&1u8, || 2);
    /// let report = group.usage_report();
    /// assert!(report.contains("doc::f: 1 hits, 1 misses"), "{report}");
    /// ```
    pub fn usage_report(&self) -> String {
        let u = self.usage();
        let mut out = format!(
            "charm cache {}: {} entries, {} of {} bytes\n",
            self.describe(),
            u.entries,
            u.bytes,
            u.budget
        );
        let (mut saved, mut spent) = (Duration::ZERO, Duration::ZERO);
        for f in &u.functions {
            saved += f.usage.time_saved;
            spent += f.usage.time_cost;
            out.push_str(&format!("  {}\n", f.usage.line(&f.name)));
        }
        out.push_str(&format!(
            "  in all: {:.3} s saved, {:.3} s spent on caching\n",
            saved.as_secs_f64(),
            spent.as_secs_f64()
        ));
        out
    }
}

impl Engine {
    /// One function's usage totals (persisted plus this process's).
    pub(crate) fn function_usage(&self, name: &charm_freeze::Digest) -> Usage {
        self.index
            .functions
            .get(name)
            .map_or_else(Usage::default, |f| {
                let mut stats = f.record.stats;
                stats.add(&f.live.snapshot());
                stats.into()
            })
    }

    pub(crate) fn usage(&self) -> GroupUsage {
        let index = self.whole_index();
        let mut per: HashMap<charm_freeze::Digest, (u64, u64)> = HashMap::new();
        for e in index.entries.iter() {
            let slot = per.entry(e.key().name).or_default();
            slot.0 += 1;
            slot.1 = slot.1.saturating_add(e.size);
        }
        let mut functions: Vec<FunctionUsage> = index
            .functions
            .iter()
            .map(|f| {
                let (entries, bytes) = per.get(f.key()).copied().unwrap_or_default();
                FunctionUsage {
                    name: f.record.name.clone(),
                    entries,
                    bytes,
                    usage: self.function_usage(f.key()),
                }
            })
            .collect();
        functions.sort_by(|a, b| a.name.cmp(&b.name));
        GroupUsage {
            entries: index.len() as u64,
            bytes: index.total_size(),
            budget: self.settings.budget,
            functions,
        }
    }
}
