//! Folders no log file may be written into (SPEC §10): programs.d (a program's output there
//! would be read back as a program file, and run, perhaps as root) and the state folder (the
//! daemon's own records). Pure: the folders come in from the caller, who knows them (and may
//! add their canonical forms); paths are compared after a lexical clean-up of `.` and `..`.

use std::path::{Component, Path, PathBuf};

use super::{LogTarget, Problem, ProgramSpec};

/// The folders a log path must stay out of, each with the words that name it in a problem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProtectedFolders {
    folders: Vec<(PathBuf, &'static str)>,
}

/// `path` with `.` dropped and `..` applied, lexically (no file system access).
pub fn clean(path: &Path) -> PathBuf {
    let mut cleaned = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                cleaned.pop();
            }
            other => cleaned.push(other),
        }
    }
    cleaned
}

impl ProtectedFolders {
    /// Adds a folder (say, `"the programs folder"`), in the form given.
    pub fn protect(mut self, folder: &Path, what: &'static str) -> ProtectedFolders {
        let folder = clean(folder);
        if !folder.as_os_str().is_empty() && !self.folders.iter().any(|(known, _)| *known == folder)
        {
            self.folders.push((folder, what));
        }
        self
    }

    /// A problem for each log path of the spec that is inside a protected folder.
    pub fn check(&self, spec: &ProgramSpec) -> Vec<Problem> {
        let mut problems = Vec::new();
        for (field, log) in [
            ("stdout_logfile", &spec.process.stdout),
            ("stderr_logfile", &spec.process.stderr),
        ] {
            if field == "stderr_logfile" && spec.process.redirect_stderr {
                continue;
            }
            let LogTarget::File(path) = &log.target else {
                continue;
            };
            let path = clean(path);
            if let Some((folder, what)) = self
                .folders
                .iter()
                .find(|(folder, _)| path.starts_with(folder))
            {
                problems.push(Problem::field(
                    field,
                    format!(
                        "{} is inside {what} ({}): a program's output must not be able to write there; log elsewhere",
                        path.display(),
                        folder.display()
                    ),
                ));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Format, UserDb, UserSpec};

    struct NoUsers;
    impl UserDb for NoUsers {
        fn by_name(&self, _: &str) -> Option<UserSpec> {
            None
        }
        fn by_uid(&self, _: u32) -> Option<UserSpec> {
            None
        }
    }

    #[test]
    fn log_paths_inside_a_protected_folder_are_problems() {
        let protected = ProtectedFolders::default()
            .protect(Path::new("/srv/programs.d"), "the programs folder")
            .protect(Path::new("/srv/./state/"), "the state folder");
        let cases: &[(&str, &[&str])] = &[
            (
                "stdout_logfile = \"/srv/programs.d/x.toml\"",
                &["stdout_logfile"],
            ),
            (
                "stderr_logfile = \"/srv/state/ids.json\"",
                &["stderr_logfile"],
            ),
            (
                "stdout_logfile = \"/srv/logs/../programs.d/x.toml\"",
                &["stdout_logfile"],
            ),
            ("stdout_logfile = \"/srv/programs.d.log\"", &[]),
            ("stdout_logfile = \"/srv/logs/x.log\"", &[]),
            ("stdout_logfile = \"auto\"", &[]),
            (
                "stdout_logfile = \"/srv/programs.d/a\"\nstderr_logfile = \"/srv/programs.d/b\"\nredirect_stderr = true",
                &["stdout_logfile"],
            ),
        ];
        for (fields, expected) in cases {
            let text = format!("command = \"true\"\n{fields}\n");
            let spec = ProgramSpec::from_text("x", Format::Toml, &text, &NoUsers).unwrap();
            let problems = protected.check(&spec);
            let found: Vec<&str> = problems
                .iter()
                .filter_map(|problem| problem.field.as_deref())
                .collect();
            assert_eq!(&found, expected, "{fields}");
        }
        assert_eq!(clean(Path::new("/a/./b/../c")), Path::new("/a/c"));
    }
}
