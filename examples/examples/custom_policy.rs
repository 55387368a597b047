//! `cargo run -p charm-examples --example custom_policy`
//!
//! A replacement policy of your own: most recently used first (good for
//! caches that are scanned in order). It is registered by name, selected
//! with `.replacement_policy("mru")`, persisted with the index by one
//! process and reloaded by a second.

use charm::{EntryKey, EntryMeta, Memoized, MemoizedGroup, ReplacementPolicy};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::error::Error;

/// Evicts the most recently used entry first.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Mru {
    clock: u64,
    by_time: BTreeMap<u64, EntryKey>,
    time_of: HashMap<EntryKey, u64>,
}

impl Mru {
    fn touch(&mut self, key: EntryKey) {
        self.invalidate(&key);
        self.clock += 1;
        self.by_time.insert(self.clock, key);
        self.time_of.insert(key, self.clock);
    }
}

#[typetag::serde(name = "mru")]
impl ReplacementPolicy for Mru {
    fn add(&mut self, key: EntryKey, _: &EntryMeta) {
        self.touch(key);
    }
    fn access(&mut self, key: EntryKey, _: &EntryMeta) {
        self.touch(key);
    }
    fn invalidate(&mut self, key: &EntryKey) {
        if let Some(t) = self.time_of.remove(key) {
            self.by_time.remove(&t);
        }
    }
    fn evict(&mut self) -> Option<EntryKey> {
        let (_, key) = self.by_time.pop_last()?;
        self.time_of.remove(&key);
        Some(key)
    }
    fn update(&mut self, other: &dyn ReplacementPolicy) {
        if let Some(other) = other.as_any().downcast_ref::<Mru>() {
            for (_, key) in other.by_time.iter() {
                if !self.time_of.contains_key(key) {
                    self.touch(*key);
                }
            }
        }
    }
    fn keys(&self) -> Vec<EntryKey> {
        self.time_of.keys().copied().collect()
    }
}

charm::register_plugin!(ReplacementPolicy, "mru", "most recently used first (an example)", new Mru::default);

const DIR: &str = "CHARM_MRU_DIR";
const BUDGET: &str = "CHARM_MRU_BUDGET";

fn group(dir: &str, size: u64) -> charm::Result<std::sync::Arc<MemoizedGroup>> {
    MemoizedGroup::builder()
        .obj_store_url(format!("dir:{dir}"))
        .replacement_policy("mru")
        .size(size)
        .build()
}

fn main() -> Result<(), Box<dyn Error>> {
    if let Ok(dir) = std::env::var(DIR) {
        // The second process: a small budget; the reloaded policy state says
        // which entry was used last, so that one goes first.
        let budget: u64 = std::env::var(BUDGET)?.parse()?;
        let g = group(&dir, budget)?;
        let f: Memoized<u32> = Memoized::builder("custom_policy::f")
            .group(g.clone())
            .build();
        g.evict()?;
        println!("process 2 evicted down to {} entries", g.len());
        let survivors: Vec<u32> = (0..4).filter(|k| f.would_hit(k)).collect();
        println!("survivors: {survivors:?} (1, used last, went first)");
        if survivors != [0, 2, 3] {
            return Err("the persisted mru state was not used".into());
        }
        return Ok(());
    }
    let dir = std::env::temp_dir().join(format!("charm-example-mru-{}", std::process::id()));
    let dir = dir.to_string_lossy().into_owned();
    let size = {
        let g = group(&dir, 1 << 20)?;
        let f: Memoized<u32> = Memoized::builder("custom_policy::f")
            .group(g.clone())
            .build();
        for k in 0..4u32 {
            f.call(&k, || k * 10);
        }
        f.call(&1u32, || unreachable!()); // 1 is now the most recent
        g.commit()?;
        println!("process 1 cached 4 entries with the mru policy; 1 used last");
        g.size()
    };
    // A budget one byte short: the second process must evict one entry.
    let out = std::process::Command::new(std::env::current_exe()?)
        .env(DIR, &dir)
        .env(BUDGET, (size - 1).to_string())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    if !out.status.success() || !text.contains("evicted down to") {
        return Err(format!(
            "the second process failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn meets_the_policy_contract() {
        charm_core::testing::policy(|| Box::new(super::Mru::default()));
        charm_core::testing::policy_registration("mru");
    }

    #[test]
    fn the_second_process_evicts_the_most_recent_first() {
        let dir =
            std::env::temp_dir().join(format!("charm-example-mru-test-{}", std::process::id()));
        let dir = dir.to_string_lossy().into_owned();
        let g = super::group(&dir, 1 << 20).unwrap();
        let f: charm::Memoized<u32> = charm::Memoized::builder("custom_policy::f")
            .group(g.clone())
            .build();
        for k in 0..4u32 {
            f.call(&k, || k);
        }
        f.call(&1u32, || unreachable!());
        g.commit().unwrap();
        drop((f, g));
        // A fresh group reads the persisted state: evicting one entry
        // removes the one used last (1), not one of the others.
        let g = super::group(&dir, 1 << 20).unwrap();
        let f: charm::Memoized<u32> = charm::Memoized::builder("custom_policy::f")
            .group(g.clone())
            .build();
        let total = g.size();
        drop(g);
        let g = super::group(&dir, total - 1).unwrap();
        assert_eq!(g.evict().unwrap(), 1);
        let f2: charm::Memoized<u32> = charm::Memoized::builder("custom_policy::f")
            .group(g.clone())
            .build();
        assert!(
            !f2.would_hit(&1u32),
            "the most recently used entry went first"
        );
        assert!(f2.would_hit(&0u32) && f2.would_hit(&2u32) && f2.would_hit(&3u32));
        drop((f, f2, g));
        std::fs::remove_dir_all(&dir).ok();
    }
}
