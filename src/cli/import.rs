//! `hoody-daemon import supervisord FILE|DIR --out DIR` and `import pm2 FILE --out DIR`: the
//! files side of the importers (`crate::import` converts). It reads the configuration (and the
//! files supervisord's `[include]` globs name), evaluates a PM2 `.config.js` with node, writes
//! one program file per program (atomically; an existing file is never replaced without
//! `--force`, and a file of the same name in another format is a conflict either way), prints
//! what could not be mapped, and checks the folder as `validate` does.
//!
//! Evaluating an `ecosystem.config.js` runs it, as `pm2 start` does: import only files you
//! trust. It is the one process the CLI starts (`node`, with a 30 s limit); the daemon's
//! invariant that only `src/supervisor` creates processes is about the daemon (ARCHITECTURE.md).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{CliError, FileFormat, ImportCommand, ImportOutput, exit};
use crate::import::{self, ImportError, Imported, pm2, supervisord};
use crate::spec::Format;

/// The most bytes read of one configuration file, and the most files an include may bring.
const MAX_FILE: u64 = 16 << 20;
const MAX_INCLUDED: usize = 1000;
/// How long an `ecosystem.config.js` may take to evaluate.
const NODE_TIMEOUT: Duration = Duration::from_secs(30);

pub fn run(command: ImportCommand, json: bool) -> Result<u8, CliError> {
    match command {
        ImportCommand::Supervisord { source, output } => {
            let (files, read) = read_supervisord(&source)?;
            let imported = supervisord::convert(&files, &supervisord_context())
                .map_err(|errors| invalid(&errors))?;
            finish("supervisord", imported, &output, read, json)
        }
        ImportCommand::Pm2 { file, env, output } => {
            let (document, base_dir, shown) = read_pm2(&file)?;
            let options = pm2::Options {
                file: shown.clone(),
                base_dir,
                env_name: env,
                environment: environment(),
            };
            let imported = pm2::convert(&document, &options).map_err(|errors| invalid(&errors))?;
            finish("pm2", imported, &output, vec![shown], json)
        }
    }
}

fn invalid(errors: &[ImportError]) -> CliError {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    CliError::new(
        exit::INVALID,
        format!(
            "nothing was written; {} problem{}:\n  {}",
            lines.len(),
            if lines.len() == 1 { "" } else { "s" },
            lines.join("\n  ")
        ),
    )
}

fn environment() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
        .collect()
}

fn supervisord_context() -> supervisord::Context {
    let environment = environment();
    supervisord::Context {
        home: environment.get("HOME").map(PathBuf::from),
        environment,
        // Python's platform.node(): the kernel's host name.
        host_node_name: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|name| name.trim().to_string())
            .unwrap_or_default(),
    }
}

fn read_text(path: &Path) -> Result<String, CliError> {
    let file = std::fs::File::open(path).map_err(|error| {
        CliError::new(
            exit::ERROR,
            format!("cannot read {}: {error}", path.display()),
        )
    })?;
    let mut text = String::new();
    file.take(MAX_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|error| {
            CliError::new(
                exit::ERROR,
                format!("cannot read {}: {error}", path.display()),
            )
        })?;
    if text.len() as u64 > MAX_FILE {
        return Err(CliError::new(
            exit::INVALID,
            format!(
                "{} is over {} MiB: not a configuration",
                path.display(),
                MAX_FILE >> 20
            ),
        ));
    }
    Ok(text)
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// How a file is named in messages: relative to `base` when inside it.
fn shown(path: &Path, base: &Path) -> String {
    path.strip_prefix(base).map_or_else(
        |_| path.display().to_string(),
        |relative| relative.display().to_string(),
    )
}

fn parse_supervisord(
    path: &Path,
    display: String,
    main: bool,
) -> Result<supervisord::SourceFile, CliError> {
    let text = read_text(path)?;
    let ini = import::ini::parse(&text, &display).map_err(|errors| invalid(&errors))?;
    Ok(supervisord::SourceFile {
        path: absolute(path),
        display,
        ini,
        main,
    })
}

/// The main file (FILE, or DIR/supervisord.conf) and what its `[include]` brings; a folder
/// without a supervisord.conf is read as if included: its `*.conf` and `*.ini`, sorted.
fn read_supervisord(
    source: &Path,
) -> Result<(Vec<supervisord::SourceFile>, Vec<String>), CliError> {
    let metadata = std::fs::metadata(source).map_err(|error| {
        CliError::new(
            exit::ERROR,
            format!("cannot read {}: {error}", source.display()),
        )
    })?;
    let mut files = Vec::new();
    if metadata.is_dir() && !source.join("supervisord.conf").is_file() {
        let folder = absolute(source);
        let mut found: Vec<PathBuf> = std::fs::read_dir(&folder)?
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| {
                path.is_file()
                    && path
                        .file_name()
                        .and_then(|name| name.to_str())
                        .is_some_and(|name| {
                            !name.starts_with('.')
                                && (name.ends_with(".conf") || name.ends_with(".ini"))
                        })
            })
            .collect();
        found.sort();
        if found.is_empty() {
            return Err(CliError::new(
                exit::INVALID,
                format!(
                    "{} holds no supervisord.conf and no *.conf or *.ini file",
                    source.display()
                ),
            ));
        }
        for path in found {
            let display = shown(&path, &folder);
            files.push(parse_supervisord(&path, display, false)?);
        }
    } else {
        let main_path = if metadata.is_dir() {
            source.join("supervisord.conf")
        } else {
            source.to_path_buf()
        };
        let main = parse_supervisord(&main_path, main_path.display().to_string(), true)?;
        let base = main
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let patterns = supervisord::include_patterns(&main, &supervisord_context())
            .map_err(|error| invalid(&[error]))?;
        files.push(main);
        for pattern in patterns {
            let matches = glob(Path::new(&pattern));
            if matches.is_empty() {
                eprintln!("hoody-daemon: note: no file matches [include] {pattern}");
            }
            for path in matches {
                if files.len() > MAX_INCLUDED {
                    return Err(CliError::new(
                        exit::INVALID,
                        format!("[include] names more than {MAX_INCLUDED} files"),
                    ));
                }
                let display = shown(&path, &base);
                files.push(parse_supervisord(&path, display, false)?);
            }
        }
    }
    let read = files.iter().map(|file| file.display.clone()).collect();
    Ok((files, read))
}

/// The regular files an absolute glob pattern matches, sorted (Python's `sorted(glob.glob())`).
fn glob(pattern: &Path) -> Vec<PathBuf> {
    let mut candidates = vec![PathBuf::from("/")];
    for component in pattern.components().skip(1) {
        let part = component.as_os_str().to_string_lossy();
        let mut next = Vec::new();
        for base in candidates {
            if import::pattern::has_magic(&part) {
                let Ok(entries) = std::fs::read_dir(&base) else {
                    continue;
                };
                for entry in entries.flatten() {
                    if let Some(name) = entry.file_name().to_str()
                        && import::pattern::matches(&part, name)
                    {
                        next.push(base.join(name));
                    }
                }
            } else {
                next.push(base.join(&*part));
            }
        }
        candidates = next;
    }
    let mut files: Vec<PathBuf> = candidates
        .into_iter()
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// The document of a PM2 file (`-` is standard input, JSON), the folder it is relative to,
/// and how to name it.
fn read_pm2(file: &Path) -> Result<(Value, PathBuf, String), CliError> {
    let shown = file.display().to_string();
    if file == Path::new("-") {
        let mut text = String::new();
        std::io::stdin().take(MAX_FILE).read_to_string(&mut text)?;
        let document = serde_json::from_str(&text).map_err(|error| {
            CliError::new(
                exit::INVALID,
                format!("standard input is not JSON (pm2 jlist's output): {error}"),
            )
        })?;
        return Ok((document, absolute(Path::new(".")), "standard input".into()));
    }
    let path = absolute(file);
    let base_dir = path
        .parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or_default();
    let document = if name.ends_with(".js") || name.ends_with(".cjs") || name.ends_with(".mjs") {
        evaluate_with_node(&path)?
    } else {
        let text = read_text(&path)?;
        if name.ends_with(".yaml") || name.ends_with(".yml") {
            serde_yaml::from_str::<Value>(&text).map_err(|error| {
                CliError::new(exit::INVALID, format!("{shown}: not YAML: {error}"))
            })?
        } else {
            match serde_json::from_str::<Value>(&text) {
                Ok(document) => document,
                Err(json_error) if !name.ends_with(".json") => serde_yaml::from_str::<Value>(&text)
                    .map_err(|_| {
                        CliError::new(
                            exit::INVALID,
                            format!("{shown}: neither JSON nor YAML: {json_error}"),
                        )
                    })?,
                Err(error) => {
                    return Err(CliError::new(
                        exit::INVALID,
                        format!("{shown}: not JSON: {error}"),
                    ));
                }
            }
        }
    };
    Ok((document, base_dir, shown))
}

/// What node runs: import the file (CommonJS or an ES module), print its export as JSON after
/// a marker (the file's own console output goes to stderr), and exit.
const NODE_SCRIPT: &str = r#"
const path = require("path");
const { pathToFileURL } = require("url");
const util = require("util");
for (const name of ["log", "info", "debug", "warn"]) {
  console[name] = (...args) => process.stderr.write(util.format(...args) + "\n");
}
import(pathToFileURL(path.resolve(process.argv[1])).href)
  .then((module) => {
    const config = module.default !== undefined ? module.default : module;
    process.stdout.write("\n@@hoody-daemon-json@@\n" + JSON.stringify(config) + "\n", () => process.exit(0));
  })
  .catch((error) => {
    process.stderr.write(String((error && error.stack) || error) + "\n");
    process.exit(1);
  });
"#;
const NODE_MARKER: &str = "\n@@hoody-daemon-json@@\n";

/// Evaluates an `ecosystem.config.js` with node (`HOODY_DAEMON_NODE`, or `node` on PATH).
// The CLI is a client process, not the daemon: running node here does not touch the daemon's
// one-reaper rule (ARCHITECTURE.md, "Architecture invariants").
#[allow(clippy::disallowed_methods)]
fn evaluate_with_node(file: &Path) -> Result<Value, CliError> {
    let node = std::env::var_os("HOODY_DAEMON_NODE").unwrap_or_else(|| "node".into());
    let folder = file.parent().unwrap_or(Path::new("/"));
    let spawned = std::process::Command::new(&node)
        .arg("-e")
        .arg(NODE_SCRIPT)
        .arg(file)
        .current_dir(folder)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        // What the file prints (and node's own errors) reach the person directly.
        .stderr(std::process::Stdio::inherit())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(CliError::new(
                exit::ERROR,
                format!(
                    "{} is JavaScript: evaluating it needs node (Node.js) on PATH, or HOODY_DAEMON_NODE. Or export it as JSON where node is:\n  node -e 'console.log(JSON.stringify(require(\"./{}\")))' > ecosystem.json",
                    file.display(),
                    file.file_name()
                        .map(|name| name.to_string_lossy())
                        .unwrap_or_default()
                ),
            ));
        }
        Err(error) => {
            return Err(CliError::new(
                exit::ERROR,
                format!("cannot run {}: {error}", node.to_string_lossy()),
            ));
        }
    };
    let reader = |stream: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut stream) = stream {
                let _ = stream.by_ref().take(MAX_FILE).read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = reader(
        child
            .stdout
            .take()
            .map(|stream| Box::new(stream) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + NODE_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(CliError::new(
                exit::ERROR,
                format!(
                    "{} did not finish evaluating within {} s",
                    file.display(),
                    NODE_TIMEOUT.as_secs()
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = String::from_utf8_lossy(&stdout.join().unwrap_or_default()).into_owned();
    let json = stdout.rsplit_once(NODE_MARKER).map(|(_, json)| json.trim());
    match json {
        Some(json) if status.success() => serde_json::from_str(json).map_err(|error| {
            CliError::new(
                exit::INVALID,
                format!("{}: its export is not JSON data: {error}", file.display()),
            )
        }),
        _ => Err(CliError::new(
            exit::INVALID,
            format!(
                "{} could not be evaluated by node ({status}; node's message is above)",
                file.display()
            ),
        )),
    }
}

/// Writes the programs into the folder (or refuses, writing nothing), prints the report, and
/// checks the folder as `validate` does.
fn finish(
    tool: &str,
    imported: Imported,
    output: &ImportOutput,
    read: Vec<String>,
    json: bool,
) -> Result<u8, CliError> {
    let format = match output.format {
        FileFormat::Toml => Format::Toml,
        FileFormat::Yaml => Format::Yaml,
    };
    let out = &output.out;
    std::fs::create_dir_all(out).map_err(|error| {
        CliError::new(
            exit::ERROR,
            format!("cannot create {}: {error}", out.display()),
        )
    })?;
    // Every file is rendered and checked first, and every conflict found, before one is written.
    let mut planned = Vec::new();
    let mut conflicts = Vec::new();
    for program in &imported.programs {
        let text = program.render(format, tool);
        program.check(format, &text).map_err(|problem| {
            CliError::new(
                exit::ERROR,
                format!(
                    "{}: the file made for {} does not read back: {problem}",
                    program.source, program.name
                ),
            )
        })?;
        let path = out.join(format!("{}.{}", program.name, format.extension()));
        for extension in ["toml", "yaml", "yml"] {
            let existing = out.join(format!("{}.{extension}", program.name));
            if !existing.exists() {
                continue;
            }
            if existing == path && output.force {
                continue;
            }
            conflicts.push(if existing == path {
                format!("{} exists (--force replaces it)", existing.display())
            } else {
                format!(
                    "{} exists: the program {} would have two files; remove one",
                    existing.display(),
                    program.name
                )
            });
        }
        planned.push((program, path, text));
    }
    if !conflicts.is_empty() {
        return Err(CliError::new(
            exit::CONFLICT,
            format!("nothing was written:\n  {}", conflicts.join("\n  ")),
        ));
    }
    let mut written = Vec::new();
    for (program, path, text) in &planned {
        let replaced = path.exists();
        crate::store::write_atomic(path, text).map_err(|error| {
            CliError::new(
                exit::ERROR,
                format!("cannot write {}: {error}", path.display()),
            )
        })?;
        written.push((program, path, replaced));
    }
    if json {
        let report = json!({
            "read": read,
            "written": written.iter().map(|(program, path, replaced)| json!({
                "name": program.name,
                "file": path.display().to_string(),
                "replaced": replaced,
                "source": program.source,
                "unmapped": program.unmapped,
                "notes": program.notes,
            })).collect::<Vec<_>>(),
            "unmapped": imported.unmapped,
            "notes": imported.notes,
        });
        super::output::print_json(&report);
    } else {
        println!("read {}", read.join(", "));
        for (program, path, replaced) in &written {
            println!(
                "{} {}  from {}",
                if *replaced { "replaced" } else { "wrote" },
                path.display(),
                program.source
            );
        }
        let unmapped: Vec<String> = imported
            .unmapped
            .iter()
            .cloned()
            .chain(imported.programs.iter().flat_map(|program| {
                program
                    .unmapped
                    .iter()
                    .map(move |line| format!("{}: {line}", program.name))
            }))
            .collect();
        if !unmapped.is_empty() {
            println!(
                "not mapped ({}; each file's header lists its own):",
                unmapped.len()
            );
            for line in &unmapped {
                println!("  {line}");
            }
        }
        let notes: Vec<String> = imported
            .notes
            .iter()
            .cloned()
            .chain(imported.programs.iter().flat_map(|program| {
                program
                    .notes
                    .iter()
                    .map(move |line| format!("{}: {line}", program.name))
            }))
            .collect();
        if !notes.is_empty() {
            println!("notes:");
            for line in &notes {
                println!("  {line}");
            }
        }
    }
    // The folder as the daemon will read it, users included.
    Ok(super::validate_to(out, json, false))
}
