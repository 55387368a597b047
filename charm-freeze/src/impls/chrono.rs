//! chrono's dates, times, date-times, offsets and durations, as structs.
//! A `DateTime` is frozen as its UTC instant: equal instants in different
//! time zones compare equal, so they hash alike.

use crate::{Freeze, Freezer};
use chrono::{
    DateTime, Datelike, FixedOffset, Month, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta,
    TimeZone, Timelike, Utc, Weekday,
};

impl Freeze for NaiveDate {
    fn freeze(&self, f: &mut Freezer) {
        f.struct_("NaiveDate", 0, 3, |s| {
            s.field("day", &self.day());
            s.field("month", &self.month());
            s.field("year", &self.year());
        })
    }
}

impl Freeze for NaiveTime {
    fn freeze(&self, f: &mut Freezer) {
        f.struct_("NaiveTime", 0, 2, |s| {
            s.field("nanos", &self.nanosecond());
            s.field("secs", &self.num_seconds_from_midnight());
        })
    }
}

impl Freeze for NaiveDateTime {
    fn freeze(&self, f: &mut Freezer) {
        f.struct_("NaiveDateTime", 0, 2, |s| {
            s.field("date", &self.date());
            s.field("time", &self.time());
        })
    }
}

impl<Tz: TimeZone> Freeze for DateTime<Tz> {
    fn freeze(&self, f: &mut Freezer) {
        f.struct_("DateTime", 0, 1, |s| s.field("utc", &self.naive_utc()))
    }
}

impl Freeze for TimeDelta {
    fn freeze(&self, f: &mut Freezer) {
        f.struct_("TimeDelta", 0, 2, |s| {
            s.field("nanos", &self.subsec_nanos());
            s.field("secs", &self.num_seconds());
        })
    }
}

impl Freeze for FixedOffset {
    fn freeze(&self, f: &mut Freezer) {
        f.struct_("FixedOffset", 0, 1, |s| {
            s.field("seconds_east", &self.local_minus_utc())
        })
    }
}

impl Freeze for Utc {
    fn freeze(&self, f: &mut Freezer) {
        f.struct_("Utc", 0, 0, |_| {})
    }
}

impl Freeze for Weekday {
    fn freeze(&self, f: &mut Freezer) {
        f.variant("Weekday", 0, &format!("{self:?}"), 0, |_| {})
    }
}

impl Freeze for Month {
    fn freeze(&self, f: &mut Freezer) {
        f.variant("Month", 0, self.name(), 0, |_| {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash;

    #[test]
    fn equal_instants_hash_alike_across_zones() {
        let utc = Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap();
        let east = utc.with_timezone(&FixedOffset::east_opt(3600).unwrap());
        assert_eq!(utc, east);
        assert_eq!(hash(&utc), hash(&east));
        assert_ne!(hash(&utc), hash(&(utc + TimeDelta::nanoseconds(1))));
        assert_ne!(hash(&Weekday::Mon), hash(&Weekday::Tue));
        assert_ne!(
            hash(&NaiveDate::from_ymd_opt(2024, 1, 2).unwrap()),
            hash(&NaiveDate::from_ymd_opt(2024, 2, 1).unwrap())
        );
    }
}
