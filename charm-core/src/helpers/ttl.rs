//! `TtlInterval`: state that changes once per interval.

use charm_freeze::{Freeze, Freezer};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A value that changes once per `interval` (in wall-clock buckets since
/// the Unix epoch): as `extra_func_state` or `extra_system_state`, entries
/// expire when the bucket turns.
///
/// ```
/// use charm_core::TtlInterval;
/// use std::time::{Duration, UNIX_EPOCH};
/// let hourly = TtlInterval::new(Duration::from_secs(3600));
/// let t = UNIX_EPOCH + Duration::from_secs(7200);
/// assert_eq!(hourly.bucket_at(t), hourly.bucket_at(t + Duration::from_secs(3599)));
/// assert_ne!(hourly.bucket_at(t), hourly.bucket_at(t + Duration::from_secs(3600)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtlInterval {
    interval: Duration,
}

impl TtlInterval {
    /// Changes every `interval` (at least a nanosecond).
    pub fn new(interval: Duration) -> Self {
        TtlInterval {
            interval: interval.max(Duration::from_nanos(1)),
        }
    }

    /// The bucket `time` falls in.
    pub fn bucket_at(&self, time: SystemTime) -> u128 {
        let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        since.as_nanos() / self.interval.as_nanos()
    }
}

impl Freeze for TtlInterval {
    fn freeze(&self, f: &mut Freezer) {
        f.struct_("TtlInterval", 0, 2, |s| {
            s.field("bucket", &self.bucket_at(SystemTime::now()));
            s.field("interval", &self.interval);
        })
    }
}
