//! `dir:PATH` — files in a local directory.

use charm_core::events::{emit, Op};
use charm_core::{
    create_temp_beside, remove_non_file, valid_key, Error, ObjStore, Result, StoredReader,
    WriteValue, TEMP_MARK,
};
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Every file this store makes ends so; `clear` and `keys` touch no other.
/// Temporary files are `<file>.charm.tmp-<pid>-<n>`, renamed into place.
const SUFFIX: &str = ".charm";

/// The most of a long file one read brings in: enough that the system
/// call costs little beside the copy, little enough that the part is
/// still in the CPU's cache when a reader checks it.
const READ_PART: u64 = 256 << 10;
/// Files up to this long fit in the CPU's cache whole: one read.
const ONE_READ: u64 = 2 << 20;
/// Files longer than this are read in two halves at once, on two threads:
/// the kernel's copy, most of what a big hit costs, then runs on two
/// cores (a thread costs some 30 µs to start, a MiB some 120 µs to copy).
const SPLIT_READ: u64 = 4 << 20;

/// Stores each key as a file under a directory (`a/b` → `DIR/a/b.charm`).
///
/// A file over 4 MiB is read by two threads at once, a half each: the
/// kernel's copy is most of what a big hit costs.
///
/// Writes go to a temporary file that is renamed into place, so readers in
/// any process see a whole value or none. Without `fsync`, a power loss may
/// leave a truncated file; charm checksums what it stores, so that is read
/// as a miss, never a wrong value. Files not made by the store (anything
/// not ending in `.charm`) are never listed or deleted.
///
/// It keeps logs ([`ObjStore::append`]): a file opened to append, held by
/// a shared `flock` for the write; [`ObjStore::take_log`] holds it
/// exclusively (waiting for the appends under way) and renames it.
///
/// The folder's contents are untrusted: something other than a regular
/// file where a key's file belongs (a folder, a fifo, a link) reads as
/// absent and is removed, so that a `put` can replace it; a read never
/// follows a link and never blocks on a fifo. A file too large to hold in
/// memory is an error, not an abort.
///
/// ```
/// use charm_core::ObjStore;
/// let dir = std::env::temp_dir().join(format!("charm-dir-doc-{}", std::process::id()));
/// let store = charm_stores::DirObjStore::open(&dir).unwrap();
/// std::fs::write(dir.join("notes.txt"), "mine").unwrap();
/// store.put("index/base", b"x").unwrap();
/// store.clear().unwrap();
/// assert!(dir.join("notes.txt").exists(), "clear leaves foreign files alone");
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
#[derive(Debug)]
pub struct DirObjStore {
    root: PathBuf,
}

impl DirObjStore {
    /// Opens (creating it if needed) the store in `root`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the directory cannot be created or is not a directory.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        if root.as_os_str().is_empty() {
            return Err(Error::Config(
                "the dir store needs a path, as in dir:.cache/charm".into(),
            ));
        }
        // One system call when the folder is there, as it is but the first
        // time (creating it would be a failing mkdir and a stat).
        if !fs::metadata(root).is_ok_and(|m| m.is_dir()) {
            fs::create_dir_all(root).map_err(|e| {
                Error::io(
                    format!("cannot create cache directory {}", root.display()),
                    e,
                )
            })?;
        }
        let root = std::path::absolute(root)
            .map_err(|e| Error::io(format!("cannot resolve {}", root.display()), e))?;
        Ok(DirObjStore { root })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        if !valid_key(key) {
            return Err(Error::Config(format!(
                "invalid store key {key:?}: use /-separated segments of letters, digits, . _ -"
            )));
        }
        Ok(self.root.join(format!("{key}{SUFFIX}")))
    }

    /// Writes what `write` writes to a new file beside `path`, then
    /// renames it into place (removing a folder in the way).
    fn write_new(
        &self,
        path: &Path,
        write: &mut dyn FnMut(&mut File) -> io::Result<()>,
    ) -> io::Result<()> {
        let (mut file, temp) = create_temp_beside(path)?;
        // Renamed into place only once written whole: a writer that failed
        // leaves what was there.
        let mut result = write(&mut file);
        if result.is_ok() {
            result = fs::rename(&temp, path);
            if result.is_err() && remove_non_file(path) {
                result = fs::rename(&temp, path); // a folder was in the way
            }
        }
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }

    /// Writes a new file at `path` with what `write` writes (see
    /// [`write_new`](Self::write_new)), creating its folder if missing.
    fn write_at(
        &self,
        path: &Path,
        write: &mut dyn FnMut(&mut File) -> io::Result<()>,
    ) -> Result<()> {
        let result = match self.write_new(path, write) {
            Err(e) if absent(&e) => {
                if let Some(parent) = path.parent() {
                    create_dirs(&self.root, parent)
                        .map_err(|e| Error::io(format!("cannot create {}", parent.display()), e))?;
                }
                self.write_new(path, write)
            }
            other => other,
        };
        result.map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
    }

    /// Reads a key's file whole, without following a link or blocking on a
    /// fifo, and shows it to `observe` as it arrives: at once up to
    /// [`ONE_READ`] bytes, else in parts of [`READ_PART`]. `None` if there
    /// is no regular file (anything else is removed).
    fn read_file(
        &self,
        path: &Path,
        observe: &mut dyn FnMut(&[u8]),
    ) -> io::Result<Option<Vec<u8>>> {
        let Some((file, len)) = self.open_file(path)? else {
            return Ok(None);
        };
        let len = usize::try_from(len).map_err(io::Error::other)?;
        let mut bytes = Vec::new();
        bytes
            .try_reserve_exact(len)
            .map_err(|e| io::Error::new(io::ErrorKind::OutOfMemory, format!("{len} bytes: {e}")))?;
        if len as u64 > SPLIT_READ && read_split(&file, &mut bytes, len, observe)? {
            return Ok(Some(bytes));
        }
        // The length the open file has, read into the buffer as it is (no
        // zeroing, no second look at the size); a put renames a new file
        // into place, so it does not change under us.
        let part = if len as u64 <= ONE_READ {
            len
        } else {
            READ_PART as usize
        };
        while bytes.len() < len {
            let start = bytes.len();
            if read_into_spare(&file, &mut bytes, part.min(len - start))? == 0 {
                break;
            }
            observe(&bytes[start..]);
        }
        if bytes.len() != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "cut short while read",
            ));
        }
        Ok(Some(bytes))
    }

    /// Opens a key's file and its length, without following a link or
    /// blocking on a fifo; `None` if there is no regular file (anything
    /// else is removed).
    fn open_file(&self, path: &Path) -> io::Result<Option<(fs::File, u64)>> {
        let opened = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path);
        let file = match opened {
            Ok(f) => f,
            Err(e) if absent(&e) => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                self.discard_non_file(path, "a symbolic link");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        if !meta.is_file() {
            self.discard_non_file(path, "not a regular file");
            return Ok(None);
        }
        Ok(Some((file, meta.len())))
    }

    /// The log at `path` opened to append, held shared (so that it is not
    /// taken meanwhile), and its length then; `None` if it was taken or
    /// replaced between the open and the lock. Creates it, and its folder,
    /// if missing.
    fn open_log(&self, path: &Path) -> io::Result<Option<(fs::File, u64)>> {
        let open = || {
            fs::OpenOptions::new()
                .append(true)
                .create(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .open(path)
        };
        let log = match open() {
            Err(e) if absent(&e) => {
                if let Some(parent) = path.parent() {
                    create_dirs(&self.root, parent)?;
                }
                open()?
            }
            // A link, a folder, or a fifo (which no reader holds open).
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ELOOP | libc::EISDIR | libc::ENXIO)
                ) =>
            {
                self.discard_non_file(path, "not a regular file");
                return Ok(None);
            }
            other => other?,
        };
        let opened = log.metadata()?;
        if !opened.is_file() {
            self.discard_non_file(path, "not a regular file");
            return Ok(None);
        }
        log.lock_shared()?;
        Ok(match fs::symlink_metadata(path) {
            Ok(now) if same_file(&opened, &now) => Some((log, now.len())),
            _ => None,
        })
    }

    /// Removes what stands where a key's file belongs, and reports it.
    fn discard_non_file(&self, path: &Path, what: &str) {
        if remove_non_file(path) {
            let detail = format!("{} was {what}; removed", path.display());
            emit(Op::Corrupt, None, None, None, &detail);
        }
    }

    /// Removes temporary files under `dir` last modified before `cutoff`.
    fn remove_temporaries(&self, dir: &Path, cutoff: SystemTime) -> io::Result<usize> {
        let mut removed = 0;
        for entry in read_dir_if_present(dir)? {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                removed += self.remove_temporaries(&path, cutoff)?;
            } else if entry.file_name().to_string_lossy().contains(TEMP_MARK)
                && entry.metadata()?.modified()? < cutoff
                && remove_if_present(&path)?
            {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Every file of ours under `dir`, as keys.
    fn walk(&self, dir: &Path, out: &mut Vec<String>) -> io::Result<()> {
        for entry in read_dir_if_present(dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                self.walk(&path, out)?;
            } else if let Some(key) = self.key_of(&path) {
                out.push(key);
            }
        }
        Ok(())
    }

    fn key_of(&self, path: &Path) -> Option<String> {
        let rel = path.strip_prefix(&self.root).ok()?;
        let text = rel.to_str()?.replace(std::path::MAIN_SEPARATOR, "/");
        let key = text.strip_suffix(SUFFIX)?;
        valid_key(key).then(|| key.to_owned())
    }

    /// Deletes our files (and our stale temporary files) under `dir`, then
    /// the directories that became empty.
    fn clear_dir(&self, dir: &Path) -> io::Result<()> {
        for entry in read_dir_if_present(dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                self.clear_dir(&path)?;
                let _ = fs::remove_dir(&path); // only succeeds when empty
            } else {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if self.key_of(&path).is_some() || name.contains(TEMP_MARK) {
                    remove_if_present(&path)?;
                }
            }
        }
        Ok(())
    }
}

/// A stored file opened for reads of its parts. A `put` renames a new
/// file into place, so the open one never changes under its reader.
#[derive(Debug)]
struct OpenFile {
    file: fs::File,
    size: u64,
    path: PathBuf,
}

impl StoredReader for OpenFile {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.file
            .read_exact_at(buf, offset)
            .map_err(|e| Error::io(format!("cannot read {}", self.path.display()), e))
    }
}

/// Tries an append makes when its log is taken between its open and its
/// lock (each time by a fold, which takes it once).
const APPEND_ATTEMPTS: usize = 8;

/// Whether two looks are at the same file: a path still names what was
/// opened (not moved or replaced).
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// Whether an error means the path is not there: missing, or a file
/// stands where one of its folders belongs.
fn absent(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR)
}

/// The entries of `dir`; none if it does not exist (or is not a folder).
fn read_dir_if_present(dir: &Path) -> io::Result<impl Iterator<Item = io::Result<fs::DirEntry>>> {
    match fs::read_dir(dir) {
        Ok(entries) => Ok(Some(entries).into_iter().flatten()),
        Err(e) if absent(&e) => Ok(None.into_iter().flatten()),
        Err(e) => Err(e),
    }
}

/// Appends to `buf` what one `read(2)` of at most `want` bytes (no more
/// than its spare capacity) brings from `file`, and returns how many.
/// `std`'s `read_to_end` on a part grows its reads from 8 KiB, doubling:
/// six system calls for each 256 KiB, 240 for a 10 MiB hit.
#[allow(unsafe_code)]
fn read_into_spare(file: &fs::File, buf: &mut Vec<u8>, want: usize) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let spare = buf.spare_capacity_mut();
    let want = want.min(spare.len());
    loop {
        // SAFETY: read(2) writes at most `want` bytes, all within the
        // vector's spare capacity, and they are initialized once written.
        let got = unsafe { libc::read(file.as_raw_fd(), spare.as_mut_ptr().cast(), want) };
        if got < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        // At most `want`, as read(2) promises.
        let got = got as usize;
        // SAFETY: the `got` bytes past the length were just written.
        unsafe { buf.set_len(buf.len() + got) };
        return Ok(got);
    }
}

/// Fills `buf` (empty, with room for `len` bytes) with the first `len`
/// bytes of `file` and shows them to `observe` in order: this thread reads
/// the first half part by part, each shown while still in the CPU's
/// cache, while another thread reads the second half, shown after.
/// `false`, having read nothing, if no thread could be started; fewer
/// bytes than `len` is an error.
#[allow(unsafe_code)]
fn read_split(
    file: &fs::File,
    buf: &mut Vec<u8>,
    len: usize,
    observe: &mut dyn FnMut(&[u8]),
) -> io::Result<bool> {
    let spare = buf.spare_capacity_mut();
    let Some(spare) = spare.get_mut(..len) else {
        return Ok(false);
    };
    let (first, second) = spare.split_at_mut(len / 2);
    let at = first.len() as u64;
    let read = std::thread::scope(|s| {
        let helper = std::thread::Builder::new()
            .name("charm-read".into())
            .spawn_scoped(s, || pread_exact(file, second, at));
        let Ok(helper) = helper else {
            return Ok(false);
        };
        let mut offset = 0;
        let mut mine = Ok(());
        for part in first.chunks_mut(READ_PART as usize) {
            mine = pread_exact(file, part, offset);
            if mine.is_err() {
                break;
            }
            offset += part.len() as u64;
            // SAFETY: `pread_exact` wrote every byte of `part`.
            observe(unsafe { std::slice::from_raw_parts(part.as_ptr().cast(), part.len()) });
        }
        let theirs = helper
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("a reading thread panicked")));
        mine.and(theirs).map(|()| true)
    })?;
    if !read {
        return Ok(false);
    }
    // SAFETY: `pread_exact` filled both halves, so each of the first `len`
    // bytes of the spare capacity was written.
    unsafe { buf.set_len(len) };
    for part in buf[len / 2..].chunks(READ_PART as usize) {
        observe(part);
    }
    Ok(true)
}

/// Fills `part` with `file`'s bytes from `offset` on, by `pread(2)`; an end
/// of file before it is full is an error.
#[allow(unsafe_code)]
fn pread_exact(
    file: &fs::File,
    part: &mut [std::mem::MaybeUninit<u8>],
    offset: u64,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut done = 0;
    while done < part.len() {
        let rest = &mut part[done..];
        let at = libc::off_t::try_from(offset + done as u64).map_err(io::Error::other)?;
        // SAFETY: pread(2) writes at most `rest.len()` bytes into `rest`,
        // memory this function borrows mutably.
        let got =
            unsafe { libc::pread(file.as_raw_fd(), rest.as_mut_ptr().cast(), rest.len(), at) };
        match got {
            0 => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "cut short while read",
                ))
            }
            n if n > 0 => done += n as usize, // at most `rest.len()`
            _ => {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
        }
    }
    Ok(())
}

/// Creates `dir` under `root`, first removing anything but a folder that
/// stands where one of its folders belongs.
fn create_dirs(root: &Path, dir: &Path) -> io::Result<()> {
    if fs::create_dir_all(dir).is_ok() {
        return Ok(());
    }
    let mut cur = root.to_owned();
    for part in dir
        .strip_prefix(root)
        .map_err(io::Error::other)?
        .components()
    {
        cur.push(part);
        if fs::symlink_metadata(&cur).is_ok_and(|m| !m.is_dir()) {
            fs::remove_file(&cur)?;
        }
    }
    fs::create_dir_all(dir)
}

fn remove_if_present(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

impl ObjStore for DirObjStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.get_observed(key, &mut |_| {})
    }

    fn get_observed(&self, key: &str, observe: &mut dyn FnMut(&[u8])) -> Result<Option<Vec<u8>>> {
        let path = self.path(key)?;
        self.read_file(&path, observe)
            .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))
    }

    fn put(&self, key: &str, value: &[u8]) -> Result<()> {
        self.write_at(&self.path(key)?, &mut |file| file.write_all(value))
    }

    /// Writes straight into the new file, renamed into place once whole.
    fn put_with(&self, key: &str, write: &mut WriteValue<'_>) -> Result<()> {
        let path = self.path(key)?;
        // The writer's own error is returned as it is; the file's are ours.
        let mut failed = None;
        let written = self.write_at(&path, &mut |file| {
            write(file).map_err(|e| {
                failed = Some(e);
                io::Error::other("the value's writer failed")
            })
        });
        match failed {
            Some(e) => Err(e),
            None => written,
        }
    }

    fn delete(&self, key: &str) -> Result<bool> {
        let path = self.path(key)?;
        remove_if_present(&path)
            .map_err(|e| Error::io(format!("cannot delete {}", path.display()), e))
    }

    fn contains(&self, key: &str) -> Result<bool> {
        Ok(fs::symlink_metadata(self.path(key)?).is_ok_and(|m| m.is_file()))
    }

    fn open(&self, key: &str) -> Result<Option<Box<dyn StoredReader>>> {
        let path = self.path(key)?;
        let opened = self
            .open_file(&path)
            .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
        Ok(opened.map(|(file, size)| Box::new(OpenFile { file, size, path }) as _))
    }

    fn keys(&self, prefix: &str) -> Result<Vec<String>> {
        // Walk only the folder the prefix names.
        let dir = match prefix.rfind('/') {
            Some(i) => self.root.join(&prefix[..i]),
            None => self.root.clone(),
        };
        let mut out = Vec::new();
        self.walk(&dir, &mut out)
            .map_err(|e| Error::io(format!("cannot list {}", dir.display()), e))?;
        out.retain(|k| k.starts_with(prefix));
        Ok(out)
    }

    fn clear(&self) -> Result<()> {
        self.clear_dir(&self.root)
            .map_err(|e| Error::io(format!("cannot clear {}", self.root.display()), e))
    }

    fn append(&self, key: &str, record: &[u8]) -> Result<Option<u64>> {
        let path = self.path(key)?;
        let cannot = |e| Error::io(format!("cannot append to {}", path.display()), e);
        for _ in 0..APPEND_ATTEMPTS {
            let Some((log, len)) = self.open_log(&path).map_err(cannot)? else {
                continue; // taken or replaced meanwhile: the next log
            };
            // One write: the kernel appends it whole with respect to other
            // appenders (a full disk may cut it short; its reader skips a
            // torn record).
            (&log).write_all(record).map_err(cannot)?;
            return Ok(Some(len + record.len() as u64));
        }
        Err(cannot(io::Error::other(
            "the log was taken over and over; try again",
        )))
    }

    fn log_len(&self, key: &str) -> Result<Option<u64>> {
        // Something else planted there (a folder, a link) is no log: the
        // next append discards it.
        let len = fs::symlink_metadata(self.path(key)?).map_or(0, |m| match m.is_file() {
            true => m.len(),
            false => 0,
        });
        Ok(Some(len))
    }

    fn take_log(&self, key: &str, to: &str) -> Result<bool> {
        let (path, to) = (self.path(key)?, self.path(to)?);
        let cannot = |e| Error::io(format!("cannot take the log {}", path.display()), e);
        let log = match self.open_file(&path).map_err(cannot)? {
            Some((log, _)) => log,
            None => return Ok(false),
        };
        // Appends in progress hold the log shared: wait for them; later
        // ones find the path moved and start a new log.
        log.lock().map_err(cannot)?;
        let still = match (log.metadata(), fs::symlink_metadata(&path)) {
            (Ok(opened), Ok(now)) => same_file(&opened, &now),
            _ => false,
        };
        if !still {
            return Ok(false); // taken by someone else meanwhile
        }
        fs::rename(&path, &to).map_err(cannot)?;
        Ok(true)
    }

    fn remove_stale_temporaries(&self, older_than: Duration) -> Result<usize> {
        let cutoff = SystemTime::now()
            .checked_sub(older_than)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        self.remove_temporaries(&self.root, cutoff)
            .map_err(|e| Error::io(format!("cannot clean {}", self.root.display()), e))
    }

    fn describe(&self) -> String {
        format!("dir:{}", self.root.display())
    }

    fn local_dir(&self) -> Option<&Path> {
        Some(&self.root)
    }
}

charm_core::register_plugin!(
    ObjStore,
    "dir",
    "files in a local directory, written atomically (dir:PATH)",
    |url: &charm_core::PluginUrl| -> Result<Box<dyn ObjStore>> {
        url.options_known(&[])?;
        Ok(Box::new(DirObjStore::open(url.body())?))
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("charm-dir-{name}-{}", std::process::id()))
    }

    #[test]
    fn long_files_read_in_parts_or_halves_come_whole_and_in_order() {
        let dir = temp("long");
        let store = DirObjStore::open(&dir).unwrap();
        // Past one read, and past the split (with an odd byte).
        for len in [(ONE_READ + 5) as usize, (SPLIT_READ * 2 + 3) as usize] {
            let value: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            store.put("obj/long", &value).unwrap();
            let mut shown = Vec::new();
            let read = store.get_observed("obj/long", &mut |part| shown.extend_from_slice(part));
            assert!(
                read.unwrap() == Some(value.clone()),
                "{len} bytes read whole"
            );
            assert!(shown == value, "{len} bytes shown in order");
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_shorter_than_its_length_is_an_error_and_keeps_nothing() {
        let dir = temp("short");
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        fs::write(&path, vec![7u8; (SPLIT_READ + 10) as usize]).unwrap();
        let file = fs::File::open(&path).unwrap();
        let len = (SPLIT_READ * 2) as usize; // as if cut while read
        let mut buf = Vec::with_capacity(len);
        let mut shown = 0;
        let err = read_split(&file, &mut buf, len, &mut |p| shown += p.len()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(buf.is_empty(), "nothing kept");
        assert!(shown < len, "not all shown");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn meets_the_store_contract() {
        let dir = temp("contract");
        charm_core::testing::obj_store(&DirObjStore::open(&dir).unwrap());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn contract_basics() {
        let dir = temp("basics");
        let s = DirObjStore::open(&dir).unwrap();
        assert_eq!(s.get("a/b").unwrap(), None);
        assert!(!s.delete("a/b").unwrap());
        s.put("a/b", b"1").unwrap();
        s.put("a/b", b"22").unwrap();
        s.put("a/c", b"3").unwrap();
        s.put("top", b"4").unwrap();
        assert_eq!(s.get("a/b").unwrap().unwrap(), b"22");
        let mut keys = s.keys("a/").unwrap();
        keys.sort();
        assert_eq!(keys, ["a/b", "a/c"]);
        assert_eq!(s.keys("").unwrap().len(), 3);
        assert!(s.contains("top").unwrap());
        assert!(s.delete("top").unwrap());
        assert!(s.put("../escape", b"x").is_err());
        fs::write(dir.join("a").join("foreign.txt"), "keep").unwrap();
        s.clear().unwrap();
        assert!(s.keys("").unwrap().is_empty());
        assert!(dir.join("a").join("foreign.txt").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn anything_but_a_file_where_a_key_belongs_reads_as_absent_and_is_replaced() {
        let dir = temp("odd");
        let s = DirObjStore::open(&dir).unwrap();
        let path = |key: &str| dir.join(format!("{key}.charm"));
        // A folder (with contents), a fifo and a dangling link.
        fs::create_dir_all(path("index/base").join("inner")).unwrap();
        let mkfifo = std::process::Command::new("mkfifo")
            .arg(path("index/count"))
            .status();
        assert!(mkfifo.unwrap().success(), "mkfifo");
        fs::create_dir_all(dir.join("obj/ab")).unwrap();
        std::os::unix::fs::symlink(dir.join("gone"), path("obj/ab/cd")).unwrap();
        for key in ["index/base", "index/count", "obj/ab/cd"] {
            assert_eq!(s.get(key).unwrap(), None, "{key} reads as absent");
            assert!(!s.contains(key).unwrap());
            s.put(key, b"fresh").unwrap();
            assert_eq!(s.get(key).unwrap().as_deref(), Some(&b"fresh"[..]), "{key}");
        }
        // A writer that fails with a folder in the way puts nothing there.
        fs::create_dir_all(path("index/torn").join("inner")).unwrap();
        let mut failing = |w: &mut dyn Write| -> Result<()> {
            w.write_all(b"half").map_err(|e| Error::io("a part", e))?;
            Err(Error::Config("the writer failed".into()))
        };
        assert!(s.put_with("index/torn", &mut failing).is_err());
        assert!(!fs::symlink_metadata(path("index/torn")).is_ok_and(|m| m.is_file()));
        assert_eq!(s.get("index/torn").unwrap(), None, "no torn value");
        // A file where a folder belongs.
        fs::write(dir.join("deltas"), "in the way").unwrap();
        assert_eq!(s.get("deltas/one").unwrap(), None);
        assert!(s.keys("deltas/").unwrap().is_empty());
        s.put("deltas/one", b"1").unwrap();
        assert_eq!(s.get("deltas/one").unwrap().as_deref(), Some(&b"1"[..]));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stale_temporaries_go_and_fresh_ones_stay() {
        let dir = temp("temps");
        let s = DirObjStore::open(&dir).unwrap();
        s.put("obj/ab/cd", b"v").unwrap();
        let (_, temp) = create_temp_beside(&dir.join("obj/ab/ef.charm")).unwrap();
        assert_eq!(
            s.remove_stale_temporaries(Duration::from_secs(3600))
                .unwrap(),
            0
        );
        assert!(temp.exists(), "a write may still be going on");
        assert_eq!(s.remove_stale_temporaries(Duration::ZERO).unwrap(), 1);
        assert!(!temp.exists());
        assert_eq!(s.keys("").unwrap(), ["obj/ab/cd"], "values untouched");
        fs::remove_dir_all(&dir).unwrap();
    }
}
