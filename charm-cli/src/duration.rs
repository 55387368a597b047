//! Durations written as `90s`, `10m`, `1h30m`, `2d` (read by `humantime`), and shown short.

use std::time::Duration;

/// Reads a duration as `humantime` does (`90s`, `10m`, `1h30m`, `2days`,
/// `250ms`); a bare number means seconds, as it did before.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let parsed = match text.parse::<f64>() {
        Ok(secs) => Duration::try_from_secs_f64(secs).map_err(|e| e.to_string()),
        Err(_) => humantime::parse_duration(text).map_err(|e| e.to_string()),
    };
    parsed.map_err(|why| {
        format!("cannot read the duration {text:?} ({why}): write it like `90s`, `10m`, `1h30m` or `2d`")
    })
}

/// `1.2 s`, `340 ms`, `2.5 h`: short and readable.
pub(crate) fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s >= 60.0 {
        format!("{:.1} min", s / 60.0)
    } else if s >= 1.0 {
        format!("{s:.1} s")
    } else if s >= 0.001 {
        format!("{:.0} ms", s * 1000.0)
    } else {
        format!("{:.0} µs", s * 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_units_and_sums() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        for bad in ["", "ten", "5 parsecs", "-1", "m"] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains("write it like"), "{bad}: {e}");
        }
    }

    #[test]
    fn human_picks_a_unit() {
        assert_eq!(human(Duration::from_millis(340)), "340 ms");
        assert_eq!(human(Duration::from_secs(90)), "1.5 min");
        assert_eq!(human(Duration::from_micros(12)), "12 µs");
    }
}
