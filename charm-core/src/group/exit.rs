//! Persisting every live group when the process exits normally (`main`
//! returns or `std::process::exit` is called), for groups that live in
//! statics and are never dropped.

use super::MemoizedGroup;
use std::sync::{Arc, Mutex, Once, Weak};

static LIVE: Mutex<Vec<Weak<MemoizedGroup>>> = Mutex::new(Vec::new());

/// Registers a group to be finished at exit.
pub(crate) fn register(group: &Arc<MemoizedGroup>) {
    static HOOK: Once = Once::new();
    HOOK.call_once(install_hook);
    let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    live.retain(|w| w.strong_count() > 0);
    live.push(Arc::downgrade(group));
}

extern "C" fn at_exit() {
    // Never unwind into the C runtime.
    let _ = std::panic::catch_unwind(|| {
        let groups: Vec<Arc<MemoizedGroup>> = match LIVE.try_lock() {
            Ok(live) => live.iter().filter_map(Weak::upgrade).collect(),
            Err(_) => return,
        };
        for g in groups {
            g.finish();
        }
    });
}

#[allow(unsafe_code)]
fn install_hook() {
    // SAFETY: `atexit` only stores the function pointer; `at_exit` is an
    // `extern "C" fn()` that catches every panic, as the C runtime requires.
    let status = unsafe { libc::atexit(at_exit) };
    if status != 0 {
        crate::events::warn_once(
            "atexit",
            "cannot register the exit hook: caches in statics are saved only by commit()",
        );
    }
}
