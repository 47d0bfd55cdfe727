//! Writing programs.d: every write is atomic (a hidden temp file in the same folder, fsync,
//! rename over the target, fsync of the folder), so a reader — the daemon's own scan, an editor, a
//! crash at any instant — sees the old file or the new one, never a torn one. A new file is
//! created 0600; a replaced one keeps its mode.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes `text` to `path` atomically. The temp file's name starts with a dot and ends in `.tmp`,
/// so a scan in the middle of the write ignores it.
pub fn write_atomic(path: &Path, text: &str) -> io::Result<()> {
    replace(path, text, Durability::Synced)
}

/// Replaces `path` with `text` by a rename, like [`write_atomic`] but without the fsyncs: a
/// reader sees the old or the new file, and the new one survives a crash of this process, not
/// a power cut. For records that a power cut makes moot anyway (the processes they list die
/// with the machine), written often enough that an fsync each time would cost.
pub fn replace_unsynced(path: &Path, text: &str) -> io::Result<()> {
    replace(path, text, Durability::Unsynced)
}

/// Whether a replacement is fsynced (file and folder) before it counts as done.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Durability {
    Synced,
    Unsynced,
}

fn replace(path: &Path, text: &str, durability: Durability) -> io::Result<()> {
    let dir = parent(path)?;
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(".tmp")
        .tempfile_in(&dir)?;
    temp.write_all(text.as_bytes())?;
    if durability == Durability::Synced {
        temp.as_file().sync_all()?;
    }
    // Not world-readable (SPEC §10): a program file may hold secrets in its environment. A
    // file being replaced keeps its mode (an operator's 0640 stays 0640); a new one is 0600.
    let mode = match fs::metadata(path) {
        Ok(metadata) => {
            use std::os::unix::fs::PermissionsExt;
            metadata.permissions().mode() & 0o7777
        }
        Err(_) => 0o600,
    };
    set_mode(temp.path(), mode)?;
    temp.persist(path).map_err(|error| error.error)?;
    if durability == Durability::Synced {
        sync_dir(&dir)?;
    }
    Ok(())
}

/// Whether `name` is one of this module's temp files: `.<file>.<6 letters or digits>.tmp`, as
/// [`write_atomic`] names them (tempfile's random part is 6 characters). A crash in the middle
/// of a write leaves one behind.
pub fn is_own_temp(name: &str) -> bool {
    let Some(inner) = name
        .strip_prefix('.')
        .and_then(|rest| rest.strip_suffix(".tmp"))
    else {
        return false;
    };
    let Some((file, random)) = inner.rsplit_once('.') else {
        return false;
    };
    !file.is_empty() && random.len() == 6 && random.bytes().all(|byte| byte.is_ascii_alphanumeric())
}

/// Removes the temp files of interrupted writes ([`is_own_temp`], regular files only) from
/// `dir`, at a start, when no write of the daemon's can be in flight (it holds the folder's
/// lock). Returns what was removed; a folder that cannot be read or written (read-only, a
/// ConfigMap) removes nothing.
pub fn remove_stale_temps(dir: &Path) -> Vec<PathBuf> {
    let Ok(listing) = fs::read_dir(dir) else {
        return Vec::new();
    };
    listing
        .flatten()
        .filter(|entry| entry.file_name().to_str().is_some_and(is_own_temp))
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
        .map(|entry| entry.path())
        .filter(|path| fs::remove_file(path).is_ok())
        .collect()
}

/// Removes a file and makes the removal durable.
pub fn remove_durable(path: &Path) -> io::Result<()> {
    fs::remove_file(path)?;
    sync_dir(&parent(path)?)
}

fn parent(path: &Path) -> io::Result<PathBuf> {
    match path.parent() {
        Some(dir) if dir.as_os_str().is_empty() => Ok(PathBuf::from(".")),
        Some(dir) => Ok(dir.to_path_buf()),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} has no parent folder", path.display()),
        )),
    }
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

/// fsync of a folder makes a rename or unlink in it durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_and_leave_no_temp_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("web.toml");
        write_atomic(&path, "command = \"a\"\n").expect("first write");
        write_atomic(&path, "command = \"b\"\n").expect("second write");
        assert_eq!(
            fs::read_to_string(&path).expect("read"),
            "command = \"b\"\n"
        );
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .flatten()
            .map(|entry| entry.file_name())
            .collect();
        assert_eq!(names, ["web.toml"]);
        remove_durable(&path).expect("remove");
        assert!(!path.exists());
    }

    #[test]
    fn only_the_temp_files_of_interrupted_writes_are_removed() {
        let table = [
            (".web.toml.a1B2c3.tmp", true),
            (".ids.json.XyZ019.tmp", true),
            (".web.toml.tmp", false), // a tool's, not ours (no random part)
            (".web.toml.a1B2c.tmp", false), // five characters
            (".web.toml.a1B2c-.tmp", false),
            ("web.toml.a1B2c3.tmp", false), // not hidden
            (".web.toml.a1B2c3.tmp~", false),
            ("..a1B2c3.tmp", false), // no file name
            (".web.toml.swp", false),
        ];
        for (name, ours) in table {
            assert_eq!(is_own_temp(name), ours, "{name}");
        }
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, _) in table {
            fs::write(dir.path().join(name), "x").expect("write");
        }
        fs::create_dir(dir.path().join(".sub.toml.a1B2c3.tmp")).expect("folder");
        let mut removed: Vec<String> = remove_stale_temps(dir.path())
            .iter()
            .filter_map(|path| Some(path.file_name()?.to_str()?.to_string()))
            .collect();
        removed.sort();
        assert_eq!(removed, [".ids.json.XyZ019.tmp", ".web.toml.a1B2c3.tmp"]);
        assert!(dir.path().join(".web.toml.tmp").exists());
        assert!(dir.path().join(".sub.toml.a1B2c3.tmp").is_dir());
    }

    #[test]
    fn new_files_are_private_and_replaced_files_keep_their_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let mode = |path: &Path| fs::metadata(path).expect("stat").permissions().mode() & 0o777;
        let path = dir.path().join("web.toml");
        write_atomic(&path, "a").expect("write");
        assert_eq!(mode(&path), 0o600);
        set_mode(&path, 0o640).expect("chmod");
        write_atomic(&path, "b").expect("rewrite");
        assert_eq!(mode(&path), 0o640);
    }

    #[test]
    fn a_write_into_a_missing_folder_fails_cleanly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let error = write_atomic(&dir.path().join("nope/web.toml"), "x").expect_err("no folder");
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
    }
}
