//! Reading programs.d into a [`Snapshot`]: which programs the folder describes, each with its
//! validated spec or its problems. Symlinks are followed (a Kubernetes ConfigMap volume is a folder
//! of links into `..data/`), and nothing in the folder can make a scan hang or exhaust memory: only
//! regular files are opened, never more than [`MAX_FILE_BYTES`] + 1 bytes are read.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::spec::name::{FileKind, classify, quote_short};
use crate::spec::{Format, MAX_FILE_BYTES, Problem, ProgramSpec, UserDb, decode};

/// One program as the folder describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: String,
    /// The program's file; with a conflict, the first of the files in name order.
    pub path: PathBuf,
    pub format: Format,
    /// The file's text, when it could be read as UTF-8 (kept for diffs and edits).
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

/// Reads every program file of `dir`.
pub fn scan(dir: &Path, users: &dyn UserDb) -> Snapshot {
    let mut snapshot = Snapshot::default();
    let listing = match fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(error) => {
            snapshot.folder_problems.push(
                Problem::file(format!("cannot read the programs folder: {error}")).in_file(dir),
            );
            return snapshot;
        }
    };
    let mut files: BTreeMap<String, Vec<(PathBuf, Format)>> = BTreeMap::new();
    for entry in listing.flatten() {
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            let shown = quote_short(&file_name.to_string_lossy());
            snapshot.folder_problems.push(
                Problem::file(format!("the file name {shown} is not valid UTF-8")).in_file(dir),
            );
            continue;
        };
        if let FileKind::Program { name, format } = classify(file_name) {
            files.entry(name).or_default().push((entry.path(), format));
        }
    }
    for (name, mut paths) in files {
        paths.sort();
        let entry = if paths.len() > 1 {
            conflict(&name, &paths)
        } else {
            let (path, format) = paths.remove(0);
            read_entry(&name, path, format, users)
        };
        match entry {
            Some(entry) => {
                snapshot.programs.insert(name, entry);
            }
            None => continue,
        }
    }
    snapshot
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

/// Reads one program file; `None` for what is not a program file after all (a folder named
/// `x.toml`, a link that vanished between listing and reading).
fn read_entry(name: &str, path: PathBuf, format: Format, users: &dyn UserDb) -> Option<Entry> {
    let mut entry = Entry {
        name: name.to_string(),
        path: path.clone(),
        format,
        text: None,
        spec: Err(Vec::new()),
    };
    let fail = |problem: Problem| Err(vec![problem.in_file(&path)]);
    match fs::metadata(&path) {
        Ok(metadata) if metadata.is_dir() => return None,
        Ok(metadata) if !metadata.is_file() => {
            entry.spec = fail(Problem::file("not a regular file"));
            return Some(entry);
        }
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            if fs::symlink_metadata(&path).is_ok() {
                entry.spec = fail(Problem::file("a symbolic link to nothing"));
                return Some(entry);
            }
            return None;
        }
        Err(error) => {
            entry.spec = fail(Problem::file(format!("cannot read: {error}")));
            return Some(entry);
        }
    }
    let bytes = match read_limited(&path) {
        Ok(bytes) => bytes,
        Err(problem) => {
            entry.spec = fail(problem);
            return Some(entry);
        }
    };
    let text = match decode(&bytes) {
        Ok(text) => text,
        Err(problem) => {
            entry.spec = fail(problem);
            return Some(entry);
        }
    };
    entry.text = Some(Arc::from(text));
    entry.spec = ProgramSpec::from_text(name, format, text, users)
        .map(Arc::new)
        .map_err(|problems| problems.into_iter().map(|p| p.in_file(&path)).collect());
    Some(entry)
}

fn read_limited(path: &Path) -> Result<Vec<u8>, Problem> {
    // O_NONBLOCK: a FIFO swapped in after the type check must not hang the scan.
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|error| Problem::file(format!("cannot read: {error}")))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| Problem::file(format!("cannot read: {error}")))?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(Problem::file(format!(
            "the file is over {MAX_FILE_BYTES} bytes; program files are limited to that"
        )));
    }
    Ok(bytes)
}
