//! Process-wide switches read from the environment once.

use std::sync::OnceLock;

fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

/// Whether `CHARM_DISABLE` is set (to `1`, `true`, `yes` or `on`): every
/// memoized call is then a plain call that reads and writes no cache (and
/// `charm run` just runs the command). Read once per process.
///
/// ```
/// // Unless the environment says otherwise:
/// # if std::env::var_os("CHARM_DISABLE").is_none() {
/// assert!(!charm_core::disabled_by_env());
/// # }
/// ```
pub fn disabled_by_env() -> bool {
    static DISABLED: OnceLock<bool> = OnceLock::new();
    *DISABLED.get_or_init(|| flag("CHARM_DISABLE"))
}

/// Whether `CHARM_REPORT` is set: every group then prints its usage report
/// (time saved and spent per function) to stderr when it is finished, at
/// drop or exit. Read once per process.
pub(crate) fn report_by_env() -> bool {
    static REPORT: OnceLock<bool> = OnceLock::new();
    *REPORT.get_or_init(|| flag("CHARM_REPORT"))
}
