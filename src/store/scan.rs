//! Reading programs.d into a [`Snapshot`]: which programs the folder describes, each with its
//! validated spec or its problems. Symlinks are followed (a Kubernetes ConfigMap volume is a folder
//! of links into `..data/`), and nothing in the folder can make a scan hang or exhaust memory: only
//! regular files are opened, never more than [`MAX_FILE_BYTES`] + 1 bytes are read.
//!
//! [`Scanner::refresh`] reads the files of a few programs alone, for an API write or a watch hint
//! that named them: what a scan would give for those names, at a cost that does not grow with the
//! folder (while programs use `depends_on`, whose checks are over the whole folder, it asks for a
//! scan instead).
//!
//! [`scan`] reads every file. A [`Scanner`] keeps, per file, what identifies the content it last
//! read, and with [`Reuse::Unchanged`] gives back the previous [`Entry`] (text, spec, problems)
//! of a file whose identity did not change, without opening it. The identity is the file's
//! (device, inode, size, mtime, ctime), both times with nanoseconds, of the file *after following
//! symlinks*: a ConfigMap update swaps the `..data` link, so the link in programs.d stays the
//! same while the file it leads to is a new one. It is taken by `fstat` on the descriptor the
//! text was read from, so it describes exactly the file that was read; the next scan compares it
//! with a `stat` of the file (`fstatat` in the open folder, following links). Any write changes
//! the ctime (which no program can set back), a rename over the file changes the inode. A
//! reused file costs that one `stat`; with 10,000 files a reusing scan takes about 30 ms here,
//! a full one about 110 ms.
//!
//! Two things can still fool the identity, and both are handled:
//!
//! - **A write within the same timestamp tick**, of the same size, right after the file was read
//!   (file timestamps come from a coarse clock: a few milliseconds, a whole second on some
//!   filesystems, two on FAT). So a file is only kept when its mtime and ctime are at least
//!   [`SETTLE`] older than the start of the scan that read it; a file changed more recently is
//!   read again by the next scan too, until it has settled. A clock stepped back, or a network
//!   filesystem whose server clock runs more than [`SETTLE`] behind, could still hide such a
//!   write from a reusing scan: the next full scan reads it.
//! - **What parsing depends on besides the text.** `ProgramSpec::from_text` looks the `user`
//!   field up in the system's user database: a user created or removed after the file was read
//!   is not seen by a reusing scan. The daemon's safety rescan (every 30 s) and SIGHUP use
//!   [`Reuse::Nothing`], so such changes converge at the next safety rescan at the latest, as
//!   they did before the cache (or at once on SIGHUP); what no longer happens is that a rescan
//!   for some other file's change catches them earlier.
//!
//! Only files that were opened and `fstat`ed as regular files are kept; a listing error, a
//! missing or dangling link, a folder or FIFO named like a program, and a name defined by two
//! files are looked at again by every scan (they cost a `stat`, not a read).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsStr;
use std::fs;
use std::io::Read as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{FileStat, Mode, fstat, fstatat};

use crate::spec::name::{FileKind, classify, quote_short};
use crate::spec::{Format, MAX_FILE_BYTES, Problem, ProgramSpec, ProtectedFolders, UserDb, decode};

/// One program as the folder describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: String,
    /// The program's file; with a conflict, the first of the files in name order.
    pub path: PathBuf,
    pub format: Format,
    /// The file's text, when it is a TOML/YAML document (kept for diffs and edits); `None` for
    /// anything else, whose content is never shown (SPEC §10).
    pub text: Option<Arc<str>>,
    /// The validated spec, or every problem found, each naming the file.
    pub spec: Result<Arc<ProgramSpec>, Vec<Problem>>,
}

impl Entry {
    pub fn problems(&self) -> &[Problem] {
        match &self.spec {
            Ok(_) => &[],
            Err(problems) => problems,
        }
    }
}

/// Everything programs.d says, by program name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub programs: BTreeMap<String, Entry>,
    /// Problems with the folder itself (it is missing, unreadable…).
    pub folder_problems: Vec<Problem>,
}

impl Snapshot {
    pub fn problems(&self) -> impl Iterator<Item = &Problem> {
        self.folder_problems
            .iter()
            .chain(self.programs.values().flat_map(Entry::problems))
    }

    pub fn is_valid(&self) -> bool {
        self.problems().next().is_none()
    }
}

/// How much of what a [`Scanner`] read before a scan may reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// The entry of each file whose identity did not change since it was read (and that had
    /// settled then): the rescans that follow a change in the folder or a write through the API.
    Unchanged,
    /// Nothing: every file is read and parsed again (the first scan, the safety rescan, SIGHUP).
    Nothing,
}

/// What one scan did with the program files it found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Files opened, read and parsed.
    pub read: usize,
    /// Files whose previous entry was reused without opening them.
    pub reused: usize,
}

/// How long after its last change (mtime or ctime) a file's identity is trusted to stand for
/// its content: longer than the coarsest timestamp of the filesystems programs.d may be on
/// (FAT: 2 s), so that a same-size write in the same tick as the read cannot go unseen.
pub const SETTLE: Duration = Duration::from_secs(2);

/// What identifies the content of a file that was read: its (device, inode, size, mtime, ctime),
/// after following symlinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    device: u64,
    inode: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileId {
    fn of(stat: &FileStat) -> FileId {
        FileId {
            device: stat.st_dev,
            inode: stat.st_ino,
            size: stat.st_size as u64,
            mtime: (stat.st_mtime, stat.st_mtime_nsec),
            ctime: (stat.st_ctime, stat.st_ctime_nsec),
        }
    }

    /// Whether the file's last change is at least [`SETTLE`] before `now` (nanoseconds since
    /// the epoch). A timestamp in the future (a clock stepped back) has not settled.
    fn settled(&self, now: i128) -> bool {
        let nanos =
            |(seconds, nanos): (i64, i64)| i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
        let changed = nanos(self.mtime).max(nanos(self.ctime));
        now - changed >= SETTLE.as_nanos() as i128
    }
}

/// What [`Scanner::refresh`] found.
#[derive(Debug)]
pub enum Refreshed {
    /// The entry of each name asked for, as a scan would give it (`None`: no file defines that
    /// program any more), in name order.
    Entries(Vec<(String, Option<Entry>)>),
    /// Looking at these files alone cannot say what a scan would: the folder was never scanned
    /// (or is another one), cannot be opened, or programs of it use `depends_on` (whose checks
    /// are over the whole folder). The caller scans the folder.
    NeedsScan,
}

/// A file read by an earlier scan, and what it gave.
#[derive(Debug, Clone)]
struct Known {
    file: FileId,
    entry: Entry,
}

/// Scans programs.d again and again, reusing what it read before for the files that did not
/// change (see the module docs for what "did not change" means and where it can be wrong).
#[derive(Debug, Default)]
pub struct Scanner {
    /// The folder of the last scan: what it read is only reused for the same folder path.
    dir: PathBuf,
    /// Folders no log path may point into (a validation error of the file, SPEC §10).
    protected: ProtectedFolders,
    /// By program name: the settled files of the last scan.
    known: HashMap<String, Known>,
    /// The programs whose file, as last read, has a `depends_on`: while there is any, a
    /// [`Scanner::refresh`] is a scan (the dependency checks are over the whole folder).
    depending: BTreeSet<String>,
}

impl Scanner {
    pub fn new() -> Scanner {
        Scanner::default()
    }

    /// A scanner that refuses log paths inside `protected` (programs.d, the state folder).
    pub fn protecting(protected: ProtectedFolders) -> Scanner {
        Scanner {
            protected,
            ..Scanner::default()
        }
    }

    /// Reads the program files of `dir`, reusing the entries of unchanged files as `reuse`
    /// allows, and remembers what it read for the next scan.
    pub fn scan(&mut self, dir: &Path, users: &dyn UserDb, reuse: Reuse) -> (Snapshot, ScanStats) {
        self.scan_sharing(dir, users, reuse, &|_| None)
    }

    /// [`Scanner::scan`], where `current` is what the caller holds of a program now (the
    /// daemon's table): a file read again whose entry equals it gives the caller's entry back
    /// (its text and spec shared), and that is what the scanner keeps for the next scan. A
    /// full rescan reads every file again: without this, each settled file's text and spec
    /// were kept twice from the first safety rescan on, once by the table and once here.
    pub fn scan_sharing<'a>(
        &mut self,
        dir: &Path,
        users: &dyn UserDb,
        reuse: Reuse,
        current: &dyn Fn(&str) -> Option<&'a Entry>,
    ) -> (Snapshot, ScanStats) {
        let mut previous = std::mem::take(&mut self.known);
        if reuse == Reuse::Nothing || self.dir != dir {
            previous.clear();
            dir.clone_into(&mut self.dir);
        }
        // Taken before any file is read: a file must have settled before its content was.
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as i128);
        let mut stats = ScanStats::default();
        let mut snapshot = Snapshot::default();
        // The folder's descriptor: each file is looked up in it by name, not by the whole path.
        let opened = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(dir);
        let (folder, listing) = match opened.and_then(|folder| Ok((folder, fs::read_dir(dir)?))) {
            Ok(opened) => opened,
            Err(error) => {
                snapshot.folder_problems.push(
                    Problem::file(format!("cannot read the programs folder: {error}")).in_file(dir),
                );
                return (snapshot, stats);
            }
        };
        let mut files: Vec<(String, String, Format)> = Vec::new();
        for entry in listing.flatten() {
            let file_name = match entry.file_name().into_string() {
                Ok(file_name) => file_name,
                Err(file_name) => {
                    let shown = quote_short(&file_name.to_string_lossy());
                    snapshot.folder_problems.push(
                        Problem::file(format!("the file name {shown} is not valid UTF-8"))
                            .in_file(dir),
                    );
                    continue;
                }
            };
            if let FileKind::Program { name, format } = classify(&file_name) {
                files.push((name, file_name, format));
            }
        }
        // By name, then file name: the files of one name side by side, the first one first.
        files.sort_unstable();
        self.known.reserve(files.len().min(previous.len()));
        let mut entries: Vec<(String, Entry)> = Vec::with_capacity(files.len());
        let mut files = files.into_iter().peekable();
        while let Some((name, file_name, format)) = files.next() {
            let entry = if files.peek().is_some_and(|(next, ..)| *next == name) {
                let mut paths = vec![(dir.join(file_name), format)];
                while let Some((_, file_name, format)) = files.next_if(|(next, ..)| *next == name) {
                    paths.push((dir.join(file_name), format));
                }
                conflict(&name, &paths)
            } else {
                let known = previous.remove(&name).filter(|known| {
                    known.entry.format == format
                        && known.entry.path.file_name() == Some(OsStr::new(&file_name))
                });
                let file = File {
                    folder: &folder,
                    dir,
                    name: &file_name,
                    format,
                };
                match read_entry(&name, file, users, &self.protected, known) {
                    Outcome::Skip => None,
                    Outcome::Looked(entry) => Some(entry),
                    Outcome::Reused(known) => {
                        stats.reused += 1;
                        let entry = known.entry.clone();
                        self.known.insert(name.clone(), known);
                        Some(entry)
                    }
                    Outcome::Read(file, entry) => {
                        stats.read += 1;
                        let entry = shared(entry, current(&name));
                        if let Some(file) = file.filter(|file| file.settled(now)) {
                            let known = Known {
                                file,
                                entry: entry.clone(),
                            };
                            self.known.insert(name.clone(), known);
                        }
                        Some(entry)
                    }
                }
            };
            if let Some(entry) = entry {
                entries.push((name, entry));
            }
        }
        // Already in order, with no name twice: built in one pass.
        snapshot.programs = entries.into_iter().collect();
        self.depending = snapshot
            .programs
            .iter()
            .filter(|(_, entry)| depends(entry))
            .map(|(name, _)| name.clone())
            .collect();
        check_dependencies(&mut snapshot);
        (snapshot, stats)
    }

    /// Reads the files of these programs alone (each of `NAME.toml`, `NAME.yaml`, `NAME.yml`
    /// that exists), as the last scan's snapshot would have them after a scan now: what an API
    /// write or a watch hint naming program files needs, at the cost of those files whatever the
    /// size of the folder. Every named file is read (none is reused), and what was read is kept
    /// for the next reusing scan as [`Scanner::scan`] keeps it.
    pub fn refresh(&mut self, dir: &Path, users: &dyn UserDb, names: &[String]) -> Refreshed {
        self.refresh_sharing(dir, users, names, &|_| None)
    }

    /// [`Scanner::refresh`], sharing what is unchanged with `current` as
    /// [`Scanner::scan_sharing`] does.
    pub fn refresh_sharing<'a>(
        &mut self,
        dir: &Path,
        users: &dyn UserDb,
        names: &[String],
        current: &dyn Fn(&str) -> Option<&'a Entry>,
    ) -> Refreshed {
        if self.dir != dir || !self.depending.is_empty() {
            return Refreshed::NeedsScan;
        }
        let Ok(folder) = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(dir)
        else {
            return Refreshed::NeedsScan;
        };
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as i128);
        let mut names: Vec<&String> = names.iter().collect();
        names.sort_unstable();
        names.dedup();
        let mut found = Vec::with_capacity(names.len());
        let mut kept = Vec::new();
        for name in names {
            // The files a listing would show for this name, in the scan's order (file name).
            let files: Vec<(String, Format)> = crate::spec::name::EXTENSIONS
                .iter()
                .map(|extension| format!("{name}.{extension}"))
                .filter_map(|file_name| match classify(&file_name) {
                    FileKind::Program { name: stem, format } if stem == *name => {
                        Some((file_name, format))
                    }
                    _ => None,
                })
                .filter(|(file_name, _)| {
                    fstatat(&folder, file_name.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW).is_ok()
                })
                .collect();
            let entry = match files.as_slice() {
                [] => None,
                [(file_name, format)] => {
                    let file = File {
                        folder: &folder,
                        dir,
                        name: file_name,
                        format: *format,
                    };
                    match read_entry(name, file, users, &self.protected, None) {
                        Outcome::Skip => None,
                        Outcome::Looked(entry) => Some(entry),
                        Outcome::Reused(known) => Some(known.entry),
                        Outcome::Read(file, entry) => {
                            let entry = shared(entry, current(name));
                            if let Some(file) = file.filter(|file| file.settled(now)) {
                                kept.push((
                                    name.clone(),
                                    Known {
                                        file,
                                        entry: entry.clone(),
                                    },
                                ));
                            }
                            Some(entry)
                        }
                    }
                }
                more => {
                    let mut sorted = more.to_vec();
                    sorted.sort_unstable();
                    let paths: Vec<(PathBuf, Format)> = sorted
                        .into_iter()
                        .map(|(file_name, format)| (dir.join(file_name), format))
                        .collect();
                    conflict(name, &paths)
                }
            };
            if entry.as_ref().is_some_and(depends) {
                return Refreshed::NeedsScan;
            }
            found.push((name.clone(), entry));
        }
        for (name, _) in &found {
            self.known.remove(name);
        }
        self.known.extend(kept);
        Refreshed::Entries(found)
    }
}

/// The caller's entry when the one just read equals it (the same text, spec or problems):
/// kept and handed on instead of a second copy.
fn shared(read: Entry, current: Option<&Entry>) -> Entry {
    match current {
        Some(current) if *current == read => current.clone(),
        _ => read,
    }
}

/// Whether a file, as read, has a `depends_on` (the checks of which are over the folder).
fn depends(entry: &Entry) -> bool {
    entry
        .spec
        .as_ref()
        .is_ok_and(|spec| !spec.depends_on.is_empty())
}

/// The checks no single file can make (SPEC §12): a `depends_on` naming no program of the
/// folder, and cycles. A file with such a problem is not valid, like any other problem: the
/// last good version of its program stays in effect, and its error names the other programs.
/// Done on every scan over the whole snapshot (what a scan reuses is each file's own result).
fn check_dependencies(snapshot: &mut Snapshot) {
    if snapshot.programs.values().all(|entry| {
        entry
            .spec
            .as_ref()
            .map_or(true, |spec| spec.depends_on.is_empty())
    }) {
        return;
    }
    let graph: crate::health::depends::Graph<'_> = snapshot
        .programs
        .iter()
        .map(|(name, entry)| {
            (
                name.as_str(),
                entry.spec.as_ref().ok().map(|spec| &spec.depends_on),
            )
        })
        .collect();
    let problems = crate::health::depends::graph_problems(&graph);
    for (name, messages) in problems {
        let Some(entry) = snapshot.programs.get_mut(&name) else {
            continue;
        };
        let position = entry
            .text
            .as_deref()
            .and_then(|text| crate::spec::parse(entry.format, text).ok())
            .and_then(|document| document.position("depends_on"));
        let problems = messages
            .into_iter()
            .map(|message| {
                let problem = Problem::field("depends_on", message).in_file(&entry.path);
                match position {
                    Some((line, column)) => problem.at(line, column),
                    None => problem,
                }
            })
            .collect();
        entry.spec = Err(problems);
    }
}

/// Reads every program file of `dir`.
pub fn scan(dir: &Path, users: &dyn UserDb) -> Snapshot {
    Scanner::new().scan(dir, users, Reuse::Nothing).0
}

/// Reads every program file of `dir`, refusing log paths inside `protected`.
pub fn scan_protected(dir: &Path, users: &dyn UserDb, protected: ProtectedFolders) -> Snapshot {
    Scanner::protecting(protected)
        .scan(dir, users, Reuse::Nothing)
        .0
}
fn conflict(name: &str, paths: &[(PathBuf, Format)]) -> Option<Entry> {
    let listed: Vec<String> = paths
        .iter()
        .filter_map(|(path, _)| {
            path.file_name()
                .map(|file| file.to_string_lossy().into_owned())
        })
        .collect();
    let problems = paths
        .iter()
        .map(|(path, _)| {
            Problem::file(format!(
                "program {} is defined by more than one file ({}); keep one",
                quote_short(name),
                listed.join(", ")
            ))
            .in_file(path)
        })
        .collect();
    let (path, format) = paths.first()?.clone();
    Some(Entry {
        name: name.to_string(),
        path,
        format,
        text: None,
        spec: Err(problems),
    })
}

/// What [`read_entry`] did with one program file.
enum Outcome {
    /// Not a program file after all (a folder named `x.toml`, a link that vanished between
    /// listing and reading).
    Skip,
    /// Looked at without opening it: not a regular file, a dangling link, `stat` failed.
    Looked(Entry),
    /// Unchanged since the scan that read it: its entry again.
    Reused(Known),
    /// Opened and read, with the identity of what was read when `fstat` could tell.
    Read(Option<FileId>, Entry),
}

/// One program file of the folder being scanned.
struct File<'a> {
    /// The folder, open: the file is looked up in it by name.
    folder: &'a fs::File,
    dir: &'a Path,
    name: &'a str,
    format: Format,
}

/// Reads one program file, or gives `known` back when it describes the file as it is now.
fn read_entry(
    name: &str,
    file: File<'_>,
    users: &dyn UserDb,
    protected: &ProtectedFolders,
    known: Option<Known>,
) -> Outcome {
    // Follows symlinks, as opening the file does.
    let stat = fstatat(file.folder, file.name, AtFlags::empty());
    if let (Ok(stat), Some(known)) = (&stat, known)
        && is_file(stat)
        && known.file == FileId::of(stat)
    {
        return Outcome::Reused(known);
    }
    let path = file.dir.join(file.name);
    let mut entry = Entry {
        name: name.to_string(),
        path: path.clone(),
        format: file.format,
        text: None,
        spec: Err(Vec::new()),
    };
    let fail = |problem: Problem| Err(vec![problem.in_file(&path)]);
    match stat {
        Ok(stat) if stat.st_mode & libc::S_IFMT == libc::S_IFDIR => return Outcome::Skip,
        Ok(stat) if !is_file(&stat) => {
            entry.spec = fail(Problem::file("not a regular file"));
            return Outcome::Looked(entry);
        }
        Ok(_) => {}
        Err(Errno::ENOENT) => {
            if fstatat(file.folder, file.name, AtFlags::AT_SYMLINK_NOFOLLOW).is_ok() {
                entry.spec = fail(Problem::file("a symbolic link to nothing"));
                return Outcome::Looked(entry);
            }
            return Outcome::Skip;
        }
        Err(error) => {
            let error = std::io::Error::from(error);
            entry.spec = fail(Problem::file(format!("cannot read: {error}")));
            return Outcome::Looked(entry);
        }
    }
    let (bytes, identity) = match read_limited(&file) {
        Ok(read) => read,
        Err(problem) => {
            entry.spec = fail(problem);
            return Outcome::Read(None, entry);
        }
    };
    if bytes.len() > MAX_FILE_BYTES {
        entry.spec = fail(Problem::file(format!(
            "the file is over {MAX_FILE_BYTES} bytes; program files are limited to that"
        )));
        return Outcome::Read(identity, entry);
    }
    let text = match decode(&bytes) {
        Ok(text) => text,
        Err(problem) => {
            entry.spec = fail(problem);
            return Outcome::Read(identity, entry);
        }
    };
    // Something that is not a TOML/YAML document (a link to /etc/shadow, /proc/PID/environ,
    // a binary) shows its problem, never its text (SPEC §10): the text is kept only for what
    // parses as a document, and the parse errors name a line and column, not the content.
    let document = match crate::spec::parse(file.format, text) {
        Ok(document) if is_program_document(&document) => document,
        Ok(_) => {
            entry.spec = fail(Problem::file(
                "not a program file: none of its keys is a field of one (its content is not shown)",
            ));
            return Outcome::Read(identity, entry);
        }
        Err(problem) => {
            entry.spec = fail(problem);
            return Outcome::Read(identity, entry);
        }
    };
    entry.text = Some(Arc::from(text));
    entry.spec = ProgramSpec::from_document(name, &document, users)
        .and_then(|spec| {
            let problems = protected.check(&spec);
            if problems.is_empty() {
                return Ok(spec);
            }
            Err(problems
                .into_iter()
                .map(|problem| {
                    match problem
                        .field
                        .as_deref()
                        .and_then(|field| document.position(field))
                    {
                        Some((line, column)) => problem.at(line, column),
                        None => problem,
                    }
                })
                .collect())
        })
        .map(Arc::new)
        .map_err(|problems| problems.into_iter().map(|p| p.in_file(&path)).collect());
    Outcome::Read(identity, entry)
}

/// Whether a document that parsed is a program file at all: empty, or with at least one key
/// that is a field (or an `x-` field of the user's). Some files that are no program file still
/// parse as YAML or TOML (`key: value` lines, an INI-like credentials file): their text is not
/// kept either.
fn is_program_document(document: &crate::spec::Document) -> bool {
    document.fields.is_empty()
        || document
            .fields
            .keys()
            .any(|key| crate::spec::FIELDS.contains(&key.as_str()) || key.starts_with("x-"))
}

fn is_file(stat: &FileStat) -> bool {
    stat.st_mode & libc::S_IFMT == libc::S_IFREG
}

/// Reads at most [`MAX_FILE_BYTES`] + 1 bytes of `file` (more than [`MAX_FILE_BYTES`] is the
/// caller's problem to report), and the identity of the file read when it is a regular file (a
/// FIFO or device swapped in after the type check is never kept).
fn read_limited(file: &File<'_>) -> Result<(Vec<u8>, Option<FileId>), Problem> {
    let cannot =
        |error: Errno| Problem::file(format!("cannot read: {}", std::io::Error::from(error)));
    // O_NONBLOCK: a FIFO swapped in after the type check must not hang the scan.
    let opened = openat(
        file.folder,
        file.name,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(cannot)?;
    // Before the read: a write after it changes the ctime, so the next scan sees the change.
    let identity = fstat(&opened)
        .ok()
        .filter(is_file)
        .map(|stat| FileId::of(&stat));
    let mut bytes = Vec::new();
    fs::File::from(opened)
        .take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| Problem::file(format!("cannot read: {error}")))?;
    Ok((bytes, identity))
}
