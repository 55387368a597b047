//! `charm gc` and `charm clear`: keeping a cache in bounds, and emptying it.

use crate::cli::CacheArgs;
use crate::output::{bytes, print, Progress};
use crate::{store, CliError, CliResult};

pub(crate) fn gc(args: &CacheArgs) -> CliResult<()> {
    if let Some(dir) = store::missing_folder(args) {
        print(&format!(
            "no cache at {} yet: nothing to collect\n",
            dir.display()
        ));
        return Ok(());
    }
    let group = store::open_group(args, store::Access::Whole)?;
    // Evict first: removing orphans commits, and the commit would evict
    // without counting.
    let evicted = group
        .evict()
        .map_err(|e| CliError::failed(format!("cannot evict: {e}")))?;
    let mut bar = Progress::new("checking stored objects");
    let orphans = group
        .remove_orphans_with_progress(&mut |done, total| bar.update(done, total))
        .map_err(|e| CliError::failed(format!("cannot remove orphaned objects: {e}")))?;
    bar.finish();
    print(&format!(
        "{}: removed {orphans} orphaned objects, evicted {evicted} entries; {} entries, {} of {}\n",
        group.describe(),
        group.len(),
        bytes(group.size()),
        bytes(group.budget())
    ));
    Ok(())
}

pub(crate) fn clear(args: &CacheArgs) -> CliResult<()> {
    if let Some(dir) = store::missing_folder(args) {
        print(&format!(
            "no cache at {} yet: nothing to clear\n",
            dir.display()
        ));
        return Ok(());
    }
    let group = store::open_group(args, store::Access::Whole)?;
    let n = group
        .clear()
        .map_err(|e| CliError::failed(format!("cannot clear {}: {e}", group.describe())))?;
    print(&format!("{}: cleared {n} entries\n", group.describe()));
    Ok(())
}
