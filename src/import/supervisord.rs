//! A supervisord configuration into program files, read as supervisord 4 reads it
//! (`supervisor/options.py`): the main file, then the files its `[include] files =` globs name
//! (relative to the main file's folder, each glob's matches sorted; an `[include]` inside an
//! included file is not followed, as supervisord does not follow it), merged into one set of
//! sections. `%(here)s` is the folder of the file a value was written in; `%(program_name)s`,
//! `%(group_name)s`, `%(host_node_name)s`, `%(process_num)d`, `%(numprocs)d` and `%(ENV_X)s`
//! (the importing environment, and the program's own `environment`) are expanded as Python's
//! `%` operator does, and the value is written into the file.
//!
//! Each `[program:x]` becomes a program; `numprocs = N` becomes N programs named by
//! `process_name`. Every key is mapped or reported; so is every other section. Where
//! supervisord's defaults differ from hoody-daemon's they are written: `boot` (supervisord's
//! `autostart` defaults to true), `stopasgroup`/`killasgroup` (false), `umask` (022, supervisord's
//! own). **Pure**: the CLI reads the files and lists the globs' folders.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::ini::{Entry, Ini};
use super::{ImportError, Imported, ImportedProgram, absolute, environment_value, size_text};
use crate::spec::StopSignal;

/// One configuration file, read and parsed.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Absolute.
    pub path: PathBuf,
    /// How messages name it (as the user gave it, or relative to the main file).
    pub display: String,
    pub ini: Ini,
    /// The main file (whose `[include]` is followed), not an included one.
    pub main: bool,
}

impl SourceFile {
    fn here(&self) -> String {
        self.path
            .parent()
            .map_or_else(|| "/".to_string(), |dir| dir.to_string_lossy().into_owned())
    }
}

/// What the importing machine contributes to expansions.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// `%(ENV_X)s`: the importing process's environment.
    pub environment: BTreeMap<String, String>,
    /// `%(host_node_name)s`.
    pub host_node_name: String,
    /// `~` in paths.
    pub home: Option<PathBuf>,
}

/// The absolute glob patterns of the main file's `[include] files =`, expanded (supervisord
/// expands `%(here)s`, `%(host_node_name)s` and `%(ENV_X)s` in them).
pub fn include_patterns(main: &SourceFile, context: &Context) -> Result<Vec<String>, ImportError> {
    let Some(include) = main
        .ini
        .sections
        .iter()
        .find(|section| section.name == "include")
    else {
        return Ok(Vec::new());
    };
    let Some(files) = include.get("files") else {
        return Err(ImportError::new(
            format!("{}:{}", main.display, include.line),
            "[include] has no files = setting",
        ));
    };
    let mut vars = base_vars(context);
    vars.insert("here".into(), Var::Text(main.here()));
    let expanded =
        expand(&files.value.replace("%(here)s", &main.here()), &vars).map_err(|message| {
            ImportError::new(
                format!("{}:{}", main.display, files.line),
                format!("[include] files: {message}"),
            )
        })?;
    let base = main.path.parent().unwrap_or(Path::new("/"));
    Ok(expanded
        .text
        .split_whitespace()
        .map(|pattern| absolute(base, pattern).to_string_lossy().into_owned())
        .collect())
}

/// A value of an expansion: most are text; `process_num` and `numprocs` are numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Var {
    Text(String),
    Number(i64),
}

fn base_vars(context: &Context) -> BTreeMap<String, Var> {
    let mut vars: BTreeMap<String, Var> = context
        .environment
        .iter()
        .map(|(key, value)| (format!("ENV_{key}"), Var::Text(value.clone())))
        .collect();
    vars.insert(
        "host_node_name".into(),
        Var::Text(context.host_node_name.clone()),
    );
    vars
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Expanded {
    text: String,
    /// The names it used, for the notes (`ENV_HOME`).
    used: Vec<String>,
}

/// Python's `text % vars`, for the forms a configuration uses: `%%`, and `%(name)` with
/// optional flags (`-`, `0`), width and precision, then `s` or `d`/`i`.
fn expand(text: &str, vars: &BTreeMap<String, Var>) -> Result<Expanded, String> {
    let mut out = String::with_capacity(text.len());
    let mut used = Vec::new();
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        if character != '%' {
            out.push(character);
            continue;
        }
        match characters.next() {
            Some('%') => {
                out.push('%');
                continue;
            }
            Some('(') => {}
            Some(other) => {
                return Err(format!(
                    "{text:?} has a '%' followed by {other:?}: write %(name)s to expand a name, or %% for a percent sign"
                ));
            }
            None => {
                return Err(format!(
                    "{text:?} ends with a lone '%': write %% for a percent sign"
                ));
            }
        }
        let mut name = String::new();
        loop {
            match characters.next() {
                Some(')') => break,
                Some(character) => name.push(character),
                None => return Err(format!("{text:?} has an unclosed %(")),
            }
        }
        let mut flags = String::new();
        while let Some(flag) = characters.next_if(|character| "-+ 0#".contains(*character)) {
            flags.push(flag);
        }
        let mut width = String::new();
        while let Some(digit) = characters.next_if(char::is_ascii_digit) {
            width.push(digit);
        }
        if characters.next_if_eq(&'.').is_some() {
            while characters.next_if(char::is_ascii_digit).is_some() {}
        }
        let conversion = characters
            .next()
            .ok_or_else(|| format!("{text:?} ends inside %({name})"))?;
        let Some(value) = vars.get(&name) else {
            let available: Vec<&str> = vars
                .keys()
                .filter(|key| !key.starts_with("ENV_"))
                .map(String::as_str)
                .collect();
            return Err(format!(
                "%({name}) cannot be expanded (available: {}, and ENV_ followed by a variable of the environment)",
                available.join(", ")
            ));
        };
        let width: usize = width.parse().unwrap_or(0);
        let body = match (conversion, value) {
            ('s', Var::Text(text)) => text.clone(),
            ('s', Var::Number(number)) => number.to_string(),
            ('d' | 'i', Var::Number(number)) => number.to_string(),
            ('d' | 'i', Var::Text(_)) => {
                return Err(format!(
                    "%({name}){conversion} needs a number; {name} is text"
                ));
            }
            (other, _) => {
                return Err(format!(
                    "%({name}){other}: only the s and d conversions are read"
                ));
            }
        };
        let padding = width.saturating_sub(body.chars().count());
        if flags.contains('-') {
            out.push_str(&body);
            out.extend(std::iter::repeat_n(' ', padding));
        } else if flags.contains('0') && matches!(value, Var::Number(_)) {
            let (sign, digits) = body.split_at(usize::from(body.starts_with('-')));
            out.push_str(sign);
            out.extend(std::iter::repeat_n('0', padding));
            out.push_str(digits);
        } else {
            out.extend(std::iter::repeat_n(' ', padding));
            out.push_str(&body);
        }
        if !used.contains(&name) {
            used.push(name);
        }
    }
    Ok(Expanded { text: out, used })
}

/// supervisord's `dict_of_key_value_pairs`: `KEY=value,OTHER="a,b"` split the way its shlex
/// (non-POSIX) does; quotes around a value are dropped. A pair that does not end at a comma
/// (`KEY=a b`) is cut where supervisord cuts it, with a warning.
fn environment_pairs(text: &str) -> Result<(BTreeMap<String, String>, Vec<String>), String> {
    let tokens = shlex_tokens(text)?;
    let mut pairs = BTreeMap::new();
    let mut warnings = Vec::new();
    let mut index = 0;
    while index < tokens.len() {
        let triple = &tokens[index..tokens.len().min(index + 3)];
        if triple.len() != 3 || triple[1] != "=" {
            return Err(format!(
                "environment {text:?} is not KEY=value pairs separated by commas"
            ));
        }
        let value = triple[2].trim_matches(['\'', '"']).to_string();
        if let Some(separator) = tokens.get(index + 3)
            && separator != ","
        {
            warnings.push(format!(
                "environment: the value of {} stops before {separator:?}, as supervisord reads it; quote values that hold spaces or other punctuation",
                triple[0]
            ));
        }
        pairs.insert(triple[0].clone(), value);
        index += 4;
    }
    Ok((pairs, warnings))
}

/// Python's `shlex.shlex(text)` (non-POSIX) with supervisord's word characters (`/.+-():`
/// added): words, quoted strings (quotes kept), and single-character punctuation; `#` starts a
/// comment.
fn shlex_tokens(text: &str) -> Result<Vec<String>, String> {
    let is_word =
        |character: char| character.is_ascii_alphanumeric() || "_/.+-():".contains(character);
    let mut tokens = Vec::new();
    let mut characters = text.chars().peekable();
    while let Some(&character) = characters.peek() {
        if character.is_whitespace() {
            characters.next();
        } else if character == '#' {
            while characters.next_if(|next| *next != '\n').is_some() {}
        } else if character == '"' || character == '\'' {
            characters.next();
            let mut token = String::from(character);
            loop {
                match characters.next() {
                    Some(next) if next == character => {
                        token.push(next);
                        break;
                    }
                    Some(next) => token.push(next),
                    None => return Err(format!("environment {text:?} has no closing quotation")),
                }
            }
            tokens.push(token);
        } else if is_word(character) {
            let mut token = String::new();
            while let Some(next) = characters.next_if(|next| is_word(*next)) {
                token.push(next);
            }
            tokens.push(token);
        } else {
            characters.next();
            tokens.push(character.to_string());
        }
    }
    Ok(tokens)
}

/// supervisord's `boolean`.
fn boolean(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// supervisord's `byte_size`: a number with an optional KB, MB or GB.
fn byte_size(value: &str) -> Option<u64> {
    let lower = value.trim().to_ascii_lowercase();
    for (suffix, multiplier) in [("kb", 1u64 << 10), ("mb", 1 << 20), ("gb", 1 << 30)] {
        if let Some(number) = lower.strip_suffix(suffix) {
            return number.trim().parse::<u64>().ok()?.checked_mul(multiplier);
        }
    }
    lower.parse().ok()
}

/// The sections that belong to no program, and what to tell about each of their keys.
fn section_advice(section: &str, key: &str) -> String {
    match (section, key) {
        ("supervisord", "logfile" | "logfile_maxbytes" | "logfile_backups" | "loglevel") => {
            "the daemon's own log: hoody-daemon logs to stderr (HOODY_DAEMON_LOG sets the level)"
                .into()
        }
        ("supervisord", "pidfile") => {
            "hoody-daemon writes no pid file (its state folder holds a lock)".into()
        }
        ("supervisord", "nodaemon") => {
            "hoody-daemon never daemonizes: run it under systemd or as a container's PID 1".into()
        }
        ("supervisord", "minfds") => {
            "hoody-daemon raises its soft open-file limit to the hard limit by itself".into()
        }
        ("supervisord", "childlogdir") => "\"auto\" logs go to `serve --log-dir`".into(),
        ("supervisord", "user") => "run hoody-daemon itself as that user".into(),
        ("supervisord", "directory") => "start hoody-daemon in that folder".into(),
        ("supervisord", "identifier") => "supervisor.getIdentification answers hoody-daemon".into(),
        ("supervisord", _) => "a setting of supervisord itself, with no counterpart".into(),
        ("unix_http_server", "file") => "listen there with `serve --listen unix:PATH`".into(),
        ("inet_http_server", "port") => {
            "listen there with `serve --listen HOST:PORT`; supervisorctl -s works against /RPC2"
                .into()
        }
        ("unix_http_server" | "inet_http_server", "username" | "password") => {
            "give the daemon a token (`--token-file`); supervisorctl sends it with -u any -p TOKEN"
                .into()
        }
        ("unix_http_server" | "inet_http_server", _) => {
            "no counterpart (the socket is made 0600)".into()
        }
        ("supervisorctl", _) => {
            "supervisorctl's own setting: point it at hoody-daemon with -s URL".into()
        }
        _ => "no counterpart".into(),
    }
}

/// The keys of `[program:x]` that hoody-daemon has nothing for, and why.
fn unmapped_program_key(key: &str) -> Option<&'static str> {
    Some(match key {
        "stdout_capture_maxbytes" | "stderr_capture_maxbytes" => {
            "hoody-daemon has no capture mode (PROCESS_COMMUNICATION events)"
        }
        "stdout_events_enabled" | "stderr_events_enabled" => "hoody-daemon has no event listeners",
        "stdout_syslog" | "stderr_syslog" => "hoody-daemon writes no syslog",
        "serverurl" => "SUPERVISOR_SERVER_URL is not set for programs",
        _ => return None,
    })
}

/// Converts the files (the main one first, then the included ones in the order read).
pub fn convert(files: &[SourceFile], context: &Context) -> Result<Imported, Vec<ImportError>> {
    let mut imported = Imported::default();
    let mut errors = Vec::new();
    let merged = merge(files, &mut imported);
    let main_here = files
        .iter()
        .find(|file| file.main)
        .or(files.first())
        .map(SourceFile::here)
        .unwrap_or_else(|| "/".to_string());

    // The groups a program belongs to (its %(group_name)s).
    let mut group_of: BTreeMap<String, String> = BTreeMap::new();
    let mut global_environment = BTreeMap::new();
    let mut global_umask: Option<String> = None;
    for section in &merged {
        let name = section.name.as_str();
        if name == "supervisord" {
            for entry in &section.entries {
                match entry.entry.key.as_str() {
                    "environment" => {
                        let mut vars = base_vars(context);
                        vars.insert("here".into(), Var::Text(main_here.clone()));
                        let expanded = expand(&entry.value(), &vars)
                            .and_then(|expanded| environment_pairs(&expanded.text));
                        match expanded {
                            Ok((pairs, warnings)) => {
                                global_environment = pairs;
                                imported.unmapped.extend(
                                    warnings
                                        .into_iter()
                                        .map(|warning| format!("[supervisord] {warning}")),
                                );
                                imported.notes.push(format!(
                                    "[supervisord] environment ({} variables) is added to every program's environment; a program's own value wins",
                                    global_environment.len()
                                ));
                            }
                            Err(message) => errors.push(entry.error(&section.name, &message)),
                        }
                    }
                    "umask" => {
                        global_umask = Some(entry.value());
                        imported.notes.push(format!(
                            "[supervisord] umask = {} is written as each program's umask",
                            entry.value()
                        ));
                    }
                    key => imported.unmapped.push(format!(
                        "[supervisord] {key} = {}: {}",
                        entry.value(),
                        section_advice("supervisord", key)
                    )),
                }
            }
        } else if let Some(group) = name.strip_prefix("group:") {
            let programs = section
                .entries
                .iter()
                .find(|entry| entry.entry.key == "programs")
                .map(SectionEntry::value)
                .unwrap_or_default();
            for program in programs
                .split(',')
                .map(str::trim)
                .filter(|program| !program.is_empty())
            {
                group_of.insert(program.to_string(), group.to_string());
            }
            imported.unmapped.push(format!(
                "[group:{group}] programs = {programs}: hoody-daemon has no process groups; each program is its own (supervisorctl start NAME:*), and the group's priority is not applied"
            ));
        } else if name == "include" || name.starts_with("program:") {
            // Handled elsewhere.
        } else if name.starts_with("rpcinterface:") {
            imported.notes.push(format!(
                "[{name}]: the XML-RPC interface is built in (/RPC2)"
            ));
        } else if let Some(listener) = name.strip_prefix("eventlistener:") {
            imported.unmapped.push(format!(
                "[eventlistener:{listener}]: event listeners are not supported; not imported"
            ));
        } else if let Some(program) = name.strip_prefix("fcgi-program:") {
            imported.unmapped.push(format!(
                "[fcgi-program:{program}]: FastCGI programs (a socket shared by supervisord) are not supported; not imported"
            ));
        } else if matches!(
            name,
            "unix_http_server" | "inet_http_server" | "supervisorctl"
        ) {
            for entry in &section.entries {
                imported.unmapped.push(format!(
                    "[{name}] {} = {}: {}",
                    entry.entry.key,
                    if entry.entry.key == "password" {
                        "…".to_string()
                    } else {
                        entry.value()
                    },
                    section_advice(name, &entry.entry.key)
                ));
            }
        } else {
            imported.unmapped.push(format!(
                "[{name}]: a section supervisord does not know either; ignored"
            ));
        }
    }

    for section in merged
        .iter()
        .filter(|section| section.name.starts_with("program:"))
    {
        let program_name = section.name["program:".len()..].trim().to_string();
        let group_name = group_of
            .get(&program_name)
            .cloned()
            .unwrap_or_else(|| program_name.clone());
        let setup = ProgramSetup {
            section,
            program_name: &program_name,
            group_name: &group_name,
            main_here: &main_here,
            context,
            global_environment: &global_environment,
            global_umask: global_umask.as_deref(),
        };
        match setup.convert() {
            Ok(programs) => imported.programs.extend(programs),
            Err(mut more) => errors.append(&mut more),
        }
    }
    if !files.iter().any(|file| {
        file.ini
            .sections
            .iter()
            .any(|section| section.name.starts_with("program:"))
    }) {
        imported
            .notes
            .push("no [program:x] section was found: nothing to write".to_string());
    }
    // Names must be unique across files and numprocs expansions.
    let mut seen = BTreeMap::new();
    for program in &imported.programs {
        if let Some(first) = seen.insert(program.name.clone(), program.source.clone()) {
            errors.push(ImportError::new(
                program.source.clone(),
                format!("the program name {} is also made by {first}", program.name),
            ));
        }
    }
    if errors.is_empty() {
        Ok(imported)
    } else {
        Err(errors)
    }
}

/// An entry of a merged section, with the file it was written in.
#[derive(Debug, Clone)]
struct SectionEntry {
    entry: Entry,
    file: String,
    here: String,
}

impl SectionEntry {
    /// The value with `%(here)s` replaced by its file's folder (supervisord's `expand_here`).
    fn value(&self) -> String {
        self.entry.value.replace("%(here)s", &self.here)
    }

    fn place(&self) -> String {
        format!("{}:{}", self.file, self.entry.line)
    }

    fn error(&self, section: &str, message: &str) -> ImportError {
        ImportError::new(
            self.place(),
            format!("[{section}] {}: {message}", self.entry.key),
        )
    }
}

#[derive(Debug, Clone)]
struct MergedSection {
    name: String,
    file: String,
    line: usize,
    entries: Vec<SectionEntry>,
}

/// All files' sections as one parser holds them after reading each in turn: a section or key
/// given again merges, the later winning; `[DEFAULT]` keys fill what a section lacks.
fn merge(files: &[SourceFile], imported: &mut Imported) -> Vec<MergedSection> {
    let mut merged: Vec<MergedSection> = Vec::new();
    let mut defaults: Vec<SectionEntry> = Vec::new();
    for file in files {
        let tagged = |entry: &Entry| SectionEntry {
            entry: entry.clone(),
            file: file.display.clone(),
            here: file.here(),
        };
        for entry in &file.ini.defaults {
            defaults.retain(|old| old.entry.key != entry.key);
            defaults.push(tagged(entry));
        }
        for section in &file.ini.sections {
            if section.name == "include" && !file.main {
                imported.unmapped.push(format!(
                    "{}: [include] in an included file is not followed (supervisord does not follow it)",
                    file.display
                ));
                continue;
            }
            let position = match merged.iter().position(|old| old.name == section.name) {
                Some(position) => position,
                None => {
                    merged.push(MergedSection {
                        name: section.name.clone(),
                        file: file.display.clone(),
                        line: section.line,
                        entries: Vec::new(),
                    });
                    merged.len() - 1
                }
            };
            let target = &mut merged[position];
            for entry in &section.entries {
                target.entries.retain(|old| old.entry.key != entry.key);
                target.entries.push(tagged(entry));
            }
        }
    }
    for section in &mut merged {
        if section.name.starts_with("program:") {
            for default in &defaults {
                if !section
                    .entries
                    .iter()
                    .any(|entry| entry.entry.key == default.entry.key)
                {
                    section.entries.push(default.clone());
                }
            }
        }
    }
    merged
}

/// What one `[program:x]` is converted with.
struct ProgramSetup<'a> {
    section: &'a MergedSection,
    program_name: &'a str,
    group_name: &'a str,
    main_here: &'a str,
    context: &'a Context,
    global_environment: &'a BTreeMap<String, String>,
    global_umask: Option<&'a str>,
}

impl ProgramSetup<'_> {
    fn source(&self) -> String {
        format!(
            "{}:{} [{}]",
            self.section.file, self.section.line, self.section.name
        )
    }

    fn entry(&self, key: &str) -> Option<&SectionEntry> {
        self.section
            .entries
            .iter()
            .find(|entry| entry.entry.key == key)
    }

    fn convert(&self) -> Result<Vec<ImportedProgram>, Vec<ImportError>> {
        let section_name = &self.section.name;
        if let Some(bad) = [' ', ':', '/']
            .into_iter()
            .find(|bad| self.program_name.contains(*bad))
        {
            return Err(vec![ImportError::new(
                self.source(),
                format!(
                    "the program name {:?} holds {bad:?}, which supervisord refuses too",
                    self.program_name
                ),
            )]);
        }
        let mut common = base_vars(self.context);
        common.insert("here".into(), Var::Text(self.main_here.to_string()));
        common.insert(
            "program_name".into(),
            Var::Text(self.program_name.to_string()),
        );
        common.insert("group_name".into(), Var::Text(self.group_name.to_string()));

        let mut errors = Vec::new();
        let integer = |key: &str,
                       vars: &BTreeMap<String, Var>,
                       errors: &mut Vec<ImportError>|
         -> Option<i64> {
            let entry = self.entry(key)?;
            match expand(&entry.value(), vars) {
                Ok(expanded) => match expanded.text.trim().parse::<i64>() {
                    Ok(number) => Some(number),
                    Err(_) => {
                        errors.push(entry.error(
                            section_name,
                            &format!("{:?} is not an integer", expanded.text),
                        ));
                        None
                    }
                },
                Err(message) => {
                    errors.push(entry.error(section_name, &message));
                    None
                }
            }
        };
        let numprocs = integer("numprocs", &common, &mut errors).unwrap_or(1);
        let numprocs_start = integer("numprocs_start", &common, &mut errors).unwrap_or(0);
        if !(1..=1000).contains(&numprocs) {
            errors.push(ImportError::new(
                self.source(),
                format!("numprocs = {numprocs}: give 1 to 1000"),
            ));
        }
        let process_name = self
            .entry("process_name")
            .map_or_else(|| "%(program_name)s".to_string(), SectionEntry::value);
        if numprocs > 1 && !process_name.contains("%(process_num)") {
            errors.push(ImportError::new(
                self.source(),
                "numprocs > 1 needs %(process_num) in process_name (supervisord refuses it too)",
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut programs = Vec::new();
        for process_num in numprocs_start..numprocs_start + numprocs {
            let mut vars = common.clone();
            vars.insert("process_num".into(), Var::Number(process_num));
            vars.insert("numprocs".into(), Var::Number(numprocs));
            let name = if numprocs > 1 {
                match expand(&process_name, &vars) {
                    Ok(expanded) => expanded.text,
                    Err(message) => {
                        errors.push(ImportError::new(
                            self.source(),
                            format!("process_name: {message}"),
                        ));
                        continue;
                    }
                }
            } else {
                self.program_name.to_string()
            };
            if let Err(message) = crate::spec::name::check_name(&name) {
                errors.push(ImportError::new(
                    self.source(),
                    format!(
                        "{message} (a program file's name; rename the section or process_name)"
                    ),
                ));
                continue;
            }
            match self.one_program(&name, &mut vars, (process_num - numprocs_start, numprocs)) {
                Ok(program) => programs.push(program),
                Err(mut more) => errors.append(&mut more),
            }
        }
        if numprocs > 1 && errors.is_empty() {
            let names: Vec<&str> = programs
                .iter()
                .map(|program| program.name.as_str())
                .collect();
            let note = format!(
                "numprocs = {numprocs}: written as {numprocs} programs ({}): hoody-daemon has no process groups",
                names.join(", ")
            );
            for program in &mut programs {
                program.notes.insert(0, note.clone());
            }
        }
        if errors.is_empty() {
            Ok(programs)
        } else {
            Err(errors)
        }
    }

    /// One process of the section (`index` of `count` for numprocs).
    fn one_program(
        &self,
        name: &str,
        vars: &mut BTreeMap<String, Var>,
        (index, count): (i64, i64),
    ) -> Result<ImportedProgram, Vec<ImportError>> {
        let section_name = &self.section.name;
        let source = if count > 1 {
            format!("{} (process {} of {count})", self.source(), index + 1)
        } else {
            self.source()
        };
        let mut program = ImportedProgram {
            name: name.to_string(),
            fields: Map::new(),
            source,
            unmapped: Vec::new(),
            notes: Vec::new(),
        };
        let mut errors = Vec::new();
        let mut used_environment: Vec<String> = Vec::new();

        // The environment first: its variables expand in the later values as %(ENV_X)s.
        let mut environment = self.global_environment.clone();
        if let Some(entry) = self.entry("environment") {
            match expand(&entry.value(), vars) {
                Ok(expanded) => {
                    used_environment.extend(
                        expanded
                            .used
                            .iter()
                            .filter(|name| name.starts_with("ENV_"))
                            .cloned(),
                    );
                    match environment_pairs(&expanded.text) {
                        Ok((pairs, warnings)) => {
                            program.unmapped.extend(warnings);
                            environment.extend(pairs);
                        }
                        Err(message) => errors.push(entry.error(section_name, &message)),
                    }
                }
                Err(message) => errors.push(entry.error(section_name, &message)),
            }
        }
        for (key, value) in &environment {
            vars.insert(format!("ENV_{key}"), Var::Text(value.clone()));
        }

        let mut value_of =
            |key: &str, errors: &mut Vec<ImportError>| -> Option<(String, &SectionEntry)> {
                let entry = self.entry(key)?;
                match expand(&entry.value(), vars) {
                    Ok(expanded) => {
                        used_environment.extend(expanded.used.into_iter().filter(|name| {
                            name.starts_with("ENV_") && !environment.contains_key(&name[4..])
                        }));
                        Some((expanded.text, entry))
                    }
                    Err(message) => {
                        errors.push(entry.error(section_name, &message));
                        None
                    }
                }
            };
        let here = |entry: &SectionEntry| PathBuf::from(&entry.here);

        match value_of("command", &mut errors) {
            Some((command, _)) if !command.trim().is_empty() => {
                program
                    .fields
                    .insert("command".into(), Value::from(command.trim().to_string()));
            }
            Some((_, entry)) => errors.push(entry.error(section_name, "is empty")),
            None => errors.push(ImportError::new(
                self.source(),
                "has no command (supervisord refuses it too)",
            )),
        }
        let autostart = match value_of("autostart", &mut errors) {
            Some((text, entry)) => boolean(&text).unwrap_or_else(|| {
                errors.push(entry.error(section_name, &format!("{text:?} is not true or false")));
                true
            }),
            None => {
                program
                    .notes
                    .push("boot = true: supervisord starts a program at its start unless autostart = false".into());
                true
            }
        };
        program.fields.insert("boot".into(), Value::from(autostart));
        if let Some((text, entry)) = value_of("autorestart", &mut errors) {
            let mapped = match text.trim().to_ascii_lowercase().as_str() {
                "false" | "0" | "no" | "off" => Some("false"),
                "true" | "1" | "on" | "yes" => Some("true"),
                "unexpected" => Some("unexpected"),
                _ => None,
            };
            match mapped {
                Some(mapped) => {
                    program
                        .fields
                        .insert("autorestart".into(), Value::from(mapped));
                }
                None => errors.push(entry.error(
                    section_name,
                    &format!("{text:?} is not true, false or unexpected"),
                )),
            }
        }
        for (key, field) in [
            ("startsecs", "startsecs"),
            ("startretries", "startretries"),
            ("stopwaitsecs", "stopwaitsecs"),
            ("priority", "priority"),
        ] {
            if let Some((text, entry)) = value_of(key, &mut errors) {
                match text.trim().parse::<i64>() {
                    Ok(number) => {
                        program.fields.insert(field.into(), Value::from(number));
                    }
                    Err(_) => errors
                        .push(entry.error(section_name, &format!("{text:?} is not an integer"))),
                }
            }
        }
        if let Some((text, entry)) = value_of("exitcodes", &mut errors) {
            let codes: Result<Vec<i64>, _> = text
                .split(',')
                .map(|code| code.trim().parse::<i64>())
                .collect();
            match codes {
                Ok(codes) => {
                    program
                        .fields
                        .insert("exitcodes".into(), Value::from(codes));
                }
                Err(_) => errors.push(entry.error(
                    section_name,
                    &format!("{text:?} is not a list of exit codes"),
                )),
            }
        }
        if let Some((text, _)) = value_of("stopsignal", &mut errors) {
            let signal = text
                .trim()
                .parse::<i32>()
                .ok()
                .and_then(|number| nix::sys::signal::Signal::try_from(number).ok())
                .map(|signal| signal.as_str().to_string())
                .unwrap_or_else(|| text.trim().to_string());
            match StopSignal::parse(&signal) {
                Some(signal) => {
                    program.fields.insert("stopsignal".into(), Value::from(signal.name()));
                }
                None => program.unmapped.push(format!(
                    "stopsignal = {text}: hoody-daemon stops with TERM, INT, QUIT, HUP, KILL, USR1 or USR2; TERM is used"
                )),
            }
        }
        let stopasgroup = match value_of("stopasgroup", &mut errors) {
            Some((text, entry)) => boolean(&text).unwrap_or_else(|| {
                errors.push(entry.error(section_name, &format!("{text:?} is not true or false")));
                false
            }),
            None => false,
        };
        let killasgroup = match value_of("killasgroup", &mut errors) {
            Some((text, entry)) => boolean(&text).unwrap_or_else(|| {
                errors.push(entry.error(section_name, &format!("{text:?} is not true or false")));
                stopasgroup
            }),
            None => stopasgroup,
        };
        if stopasgroup && !killasgroup {
            errors.push(ImportError::new(
                self.source(),
                "stopasgroup = true with killasgroup = false (supervisord refuses it too)",
            ));
        }
        program
            .fields
            .insert("stopasgroup".into(), Value::from(stopasgroup));
        program
            .fields
            .insert("killasgroup".into(), Value::from(killasgroup));
        if !stopasgroup || !killasgroup {
            program.notes.push(format!(
                "stopasgroup = {stopasgroup}, killasgroup = {killasgroup}: written as supervisord had them (hoody-daemon's default, true, also ends the program's children)"
            ));
        }
        if let Some((text, _)) = value_of("user", &mut errors) {
            let user = text.trim();
            let value = user
                .parse::<u32>()
                .map_or_else(|_| Value::from(user), Value::from);
            program.fields.insert("user".into(), value);
        }
        let redirect_stderr = match value_of("redirect_stderr", &mut errors) {
            Some((text, entry)) => {
                let flag = boolean(&text).unwrap_or_else(|| {
                    errors
                        .push(entry.error(section_name, &format!("{text:?} is not true or false")));
                    false
                });
                program
                    .fields
                    .insert("redirect_stderr".into(), Value::from(flag));
                flag
            }
            None => false,
        };
        let home = self.context.home.clone();
        let path_of = |text: &str, entry: &SectionEntry| -> Result<String, String> {
            let text = text.trim();
            let expanded = if let Some(rest) = text.strip_prefix("~/") {
                match &home {
                    Some(home) => home.join(rest).to_string_lossy().into_owned(),
                    None => {
                        return Err(format!(
                            "{text:?}: ~ cannot be expanded here; give an absolute path"
                        ));
                    }
                }
            } else if text.starts_with('~') {
                return Err(format!(
                    "{text:?}: ~user is not expanded; give an absolute path"
                ));
            } else {
                text.to_string()
            };
            Ok(absolute(&here(entry), &expanded)
                .to_string_lossy()
                .into_owned())
        };
        for stream in ["stdout", "stderr"] {
            let key = format!("{stream}_logfile");
            if let Some((text, entry)) = value_of(&key, &mut errors) {
                let lower = text.trim().to_ascii_lowercase();
                if stream == "stderr"
                    && redirect_stderr
                    && !matches!(lower.as_str(), "auto" | "none")
                {
                    program.notes.push(format!(
                        "stderr_logfile = {text}: ignored with redirect_stderr = true, as supervisord ignores it"
                    ));
                } else if lower == "auto" {
                    program.fields.insert(key.clone(), Value::from("auto"));
                } else if lower == "none" {
                    program.fields.insert(key.clone(), Value::from("none"));
                } else if lower == "syslog" {
                    program.unmapped.push(format!(
                        "{key} = syslog: hoody-daemon writes no syslog; \"auto\" is used"
                    ));
                } else {
                    match path_of(&text, entry) {
                        Ok(path) => {
                            if !text.trim().starts_with('/') {
                                program.notes.push(format!(
                                    "{key} = {text}: resolved against {}",
                                    entry.here
                                ));
                            }
                            program.fields.insert(key.clone(), Value::from(path));
                        }
                        Err(message) => program.unmapped.push(format!("{key} = {message}")),
                    }
                }
            }
            let maxbytes_key = format!("{stream}_logfile_maxbytes");
            if let Some((text, entry)) = value_of(&maxbytes_key, &mut errors) {
                match byte_size(&text) {
                    Some(bytes) => {
                        program
                            .fields
                            .insert(maxbytes_key.clone(), size_text(bytes));
                    }
                    None => errors.push(entry.error(
                        section_name,
                        &format!("{text:?} is not a size (50MB, 1KB, 1GB or bytes)"),
                    )),
                }
            }
            let backups_key = format!("{stream}_logfile_backups");
            if let Some((text, entry)) = value_of(&backups_key, &mut errors) {
                match text.trim().parse::<u64>() {
                    Ok(backups) => {
                        program
                            .fields
                            .insert(backups_key.clone(), Value::from(backups));
                    }
                    Err(_) => {
                        errors.push(entry.error(section_name, &format!("{text:?} is not a count")))
                    }
                }
            }
        }
        if let Some((text, entry)) = value_of("directory", &mut errors) {
            match path_of(&text, entry) {
                Ok(path) => {
                    if !text.trim().starts_with('/') {
                        program.notes.push(format!(
                            "directory = {text}: resolved against {}",
                            entry.here
                        ));
                    }
                    program.fields.insert("directory".into(), Value::from(path));
                }
                Err(message) => program.unmapped.push(format!("directory = {message}")),
            }
        }
        let umask = match value_of("umask", &mut errors) {
            Some((text, _)) => Some(text),
            None => self.global_umask.map(str::to_string),
        };
        match umask {
            Some(text) => match u32::from_str_radix(text.trim(), 8) {
                Ok(mask) if mask <= 0o777 => {
                    program
                        .fields
                        .insert("umask".into(), Value::from(format!("{mask:03o}")));
                }
                _ => errors.push(ImportError::new(
                    program.source.clone(),
                    format!("umask {text:?} is not an octal mask"),
                )),
            },
            None => {
                program.fields.insert("umask".into(), Value::from("022"));
                program.notes.push("umask = \"022\": supervisord's default (hoody-daemon's programs inherit the daemon's)".into());
            }
        }
        if !environment.is_empty() {
            program
                .fields
                .insert("environment".into(), environment_value(&environment));
        }
        for entry in &self.section.entries {
            let key = entry.entry.key.as_str();
            if MAPPED_KEYS.contains(&key) {
                continue;
            }
            let reason = unmapped_program_key(key).unwrap_or("not a supervisord setting; ignored");
            program
                .unmapped
                .push(format!("{key} = {}: {reason}", entry.value()));
        }
        used_environment.sort();
        used_environment.dedup();
        if !used_environment.is_empty() {
            program.notes.push(format!(
                "expanded from the importing environment, the values are written into the file: {}",
                used_environment
                    .iter()
                    .map(|name| format!("%({name})s"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if errors.is_empty() {
            Ok(program)
        } else {
            Err(errors)
        }
    }
}

/// The `[program:x]` keys mapped above (or read for naming).
const MAPPED_KEYS: &[&str] = &[
    "command",
    "process_name",
    "numprocs",
    "numprocs_start",
    "priority",
    "autostart",
    "autorestart",
    "startsecs",
    "startretries",
    "exitcodes",
    "stopsignal",
    "stopwaitsecs",
    "stopasgroup",
    "killasgroup",
    "user",
    "redirect_stderr",
    "stdout_logfile",
    "stdout_logfile_maxbytes",
    "stdout_logfile_backups",
    "stderr_logfile",
    "stderr_logfile_maxbytes",
    "stderr_logfile_backups",
    "environment",
    "directory",
    "umask",
];

#[cfg(test)]
mod tests;
