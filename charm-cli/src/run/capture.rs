//! Running the command with its stdout and stderr streamed live and
//! recorded, and replaying a recording.

use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which output stream a chunk went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

/// Bytes the command wrote to one stream, in the order they arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Chunk {
    pub(crate) stream: Stream,
    #[serde(with = "serde_bytes")]
    pub(crate) bytes: Vec<u8>,
}

/// What the command gets on stdin.
#[derive(Debug)]
pub(crate) enum StdinSource {
    /// These bytes (charm read its own stdin, which was not a terminal).
    Bytes(Arc<Vec<u8>>),
    /// charm's own stdin, unread.
    Inherit,
}

/// What one run of the command did.
#[derive(Debug)]
pub(crate) struct Captured {
    pub(crate) exit_code: i32,
    pub(crate) output: Vec<Chunk>,
    /// The output outgrew the recording limit: it was streamed, not kept.
    pub(crate) overflowed: bool,
    pub(crate) elapsed: Duration,
}

/// The output kept so far, up to a limit (the cache's budget): beyond it,
/// keeping more would only exhaust memory for a value that cannot be stored.
#[derive(Debug)]
struct Recorder {
    chunks: Vec<Chunk>,
    bytes: u64,
    limit: u64,
    overflowed: bool,
}

impl Recorder {
    fn keep(&mut self, stream: Stream, data: &[u8]) {
        if self.overflowed {
            return;
        }
        self.bytes += data.len() as u64;
        if self.bytes > self.limit {
            self.overflowed = true;
            self.chunks = Vec::new();
            return;
        }
        match self.chunks.last_mut() {
            Some(last) if last.stream == stream => last.bytes.extend_from_slice(data),
            _ => self.chunks.push(Chunk {
                stream,
                bytes: data.to_vec(),
            }),
        }
    }
}

/// The shell convention: the exit code, or 128 + the signal that killed it.
pub(crate) fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

/// Runs `program` (named `argv0` to itself) with `args`, copying its
/// stdout and stderr to ours as they come and recording up to `limit` bytes
/// of them.
pub(crate) fn execute(
    program: &Path,
    argv0: &OsString,
    args: &[OsString],
    stdin: &StdinSource,
    limit: u64,
) -> io::Result<Captured> {
    let start = Instant::now();
    let mut command = Command::new(program);
    command
        .arg0(argv0)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.stdin(match stdin {
        StdinSource::Bytes(_) => Stdio::piped(),
        StdinSource::Inherit => Stdio::inherit(),
    });
    let mut child = command.spawn()?;
    let feeder = match (stdin, child.stdin.take()) {
        (StdinSource::Bytes(bytes), Some(mut pipe)) => {
            let bytes = Arc::clone(bytes);
            // A command that exits without reading its input closes the
            // pipe: that is not an error.
            Some(std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            }))
        }
        _ => None,
    };
    let recorded = Arc::new(Mutex::new(Recorder {
        chunks: Vec::new(),
        bytes: 0,
        limit,
        overflowed: false,
    }));
    let pumps: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| pump(s, Stream::Stdout, &recorded)),
        child
            .stderr
            .take()
            .map(|s| pump(s, Stream::Stderr, &recorded)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let status = child.wait()?;
    for p in pumps {
        let _ = p.join();
    }
    if let Some(f) = feeder {
        let _ = f.join();
    }
    let mut recorder = recorded.lock().unwrap_or_else(|e| e.into_inner());
    Ok(Captured {
        exit_code: exit_code(status),
        output: std::mem::take(&mut recorder.chunks),
        overflowed: recorder.overflowed,
        elapsed: start.elapsed(),
    })
}

/// Copies one of the child's streams to ours and into `recorded`. Our end
/// being closed (`charm run ... | head -1`) does not stop the recording:
/// the command's whole output is kept, as if nothing had listened.
fn pump(
    mut from: impl Read + Send + 'static,
    stream: Stream,
    recorded: &Arc<Mutex<Recorder>>,
) -> std::thread::JoinHandle<()> {
    let recorded = Arc::clone(recorded);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let mut ours_open = true;
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            recorded
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .keep(stream, &buf[..n]);
            if ours_open {
                ours_open = write_to(stream, &buf[..n]).is_ok();
            }
        }
    })
}

fn write_to(stream: Stream, bytes: &[u8]) -> io::Result<()> {
    match stream {
        Stream::Stdout => {
            let mut out = io::stdout().lock();
            out.write_all(bytes)?;
            out.flush()
        }
        Stream::Stderr => io::stderr().lock().write_all(bytes),
    }
}

/// Writes recorded output to our stdout and stderr, in the order it came.
/// A closed stdout (a reader that stopped early) is not an error.
pub(crate) fn replay(chunks: &[Chunk]) {
    for c in chunks {
        if write_to(c.stream, &c.bytes).is_err() && c.stream == Stream::Stdout {
            break;
        }
    }
}
