//! Plain-text tables and sizes for the subcommands' output.

/// Formats rows as a table: the first row is the header; the first `left`
/// columns are left-aligned (text), the others right-aligned (numbers).
pub(crate) fn table(rows: &[Vec<String>], left: usize) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, s)| match c {
                c if c < left => format!("{s:<w$}", w = widths[c]),
                _ => format!("{s:>w$}", w = widths[c]),
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Writes `text` to stdout. A reader that went away (`charm stats | head -1`)
/// is not an error: the rest is simply not wanted.
pub(crate) fn print(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// `1.5 MiB`.
pub(crate) fn bytes(n: u64) -> String {
    charm::ByteSize(n).to_string()
}

/// A progress bar on stderr, drawn only when stderr is a terminal and the
/// work is large enough to wait for.
#[derive(Debug)]
pub(crate) struct Progress {
    label: &'static str,
    shown: bool,
    last_percent: usize,
}

impl Progress {
    pub(crate) fn new(label: &'static str) -> Self {
        Progress {
            label,
            shown: false,
            last_percent: usize::MAX,
        }
    }

    /// Reports `done` of `total`.
    pub(crate) fn update(&mut self, done: usize, total: usize) {
        use std::io::{IsTerminal, Write};
        if total < 1000 || !std::io::stderr().is_terminal() {
            return;
        }
        let percent = done * 100 / total;
        if percent == self.last_percent {
            return;
        }
        self.last_percent = percent;
        self.shown = true;
        let filled = percent * 30 / 100;
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r{} [{}{}] {percent:>3}% ({done}/{total})",
            self.label,
            "#".repeat(filled),
            " ".repeat(30 - filled)
        );
        let _ = err.flush();
    }

    /// Ends the bar's line, if one was drawn.
    pub(crate) fn finish(&self) {
        if self.shown {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let t = table(
            &[
                vec!["name".into(), "n".into()],
                vec!["a-long-name".into(), "12345".into()],
            ],
            1,
        );
        assert_eq!(t, "name             n\na-long-name  12345\n");
    }
}
