//! Program names and program file names (SPEC §2): which files in programs.d are program files,
//! which are ignored, and which names are allowed.

use super::Format;

/// The extensions of program files, in the order a file for a new name is looked for.
pub const EXTENSIONS: [&str; 3] = ["toml", "yaml", "yml"];

/// The longest allowed program name.
pub const MAX_NAME_LEN: usize = 64;

/// What a directory entry of programs.d is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    /// A program file: its stem is the program's name (which may still be invalid).
    Program { name: String, format: Format },
    /// Hidden files, editor leftovers and other extensions: not ours, silently skipped.
    Ignored,
}

/// Classifies a file name found in programs.d.
pub fn classify(file_name: &str) -> FileKind {
    let is_leftover = file_name.starts_with('.')
        || file_name.ends_with('~')
        || file_name.ends_with(".swp")
        || file_name.ends_with(".swx")
        || file_name.ends_with(".tmp");
    if is_leftover {
        return FileKind::Ignored;
    }
    let Some((stem, extension)) = file_name.rsplit_once('.') else {
        return FileKind::Ignored;
    };
    let format = match extension {
        "toml" => Format::Toml,
        "yaml" | "yml" => Format::Yaml,
        _ => return FileKind::Ignored,
    };
    FileKind::Program {
        name: stem.to_string(),
        format,
    }
}

/// Checks a program name against `[A-Za-z0-9][A-Za-z0-9_.-]{0,63}`.
pub fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err("the name is empty".to_string());
    };
    if !first.is_ascii_alphanumeric() {
        return Err(format!(
            "the name {} must start with a letter or a digit",
            quote_short(name)
        ));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "the name is {} characters long; at most {MAX_NAME_LEN} are allowed",
            name.chars().count()
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "the name {} contains {:?}; only letters, digits, '_', '.' and '-' are allowed",
            quote_short(name),
            bad
        ));
    }
    Ok(())
}

/// Quotes a user-supplied string for an error message, escaping control characters and cutting it
/// short so that no message echoes a huge or binary value.
pub fn quote_short(text: &str) -> String {
    const LIMIT: usize = 80;
    let mut out = String::from("\"");
    for (count, c) in text.chars().enumerate() {
        if count == LIMIT {
            out.push('…');
            break;
        }
        out.extend(c.escape_debug());
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_table() {
        let program = |name: &str, format| FileKind::Program {
            name: name.to_string(),
            format,
        };
        let cases = [
            ("web.toml", program("web", Format::Toml)),
            ("web.yaml", program("web", Format::Yaml)),
            ("web.yml", program("web", Format::Yaml)),
            ("web.prod.toml", program("web.prod", Format::Toml)),
            ("bad name.toml", program("bad name", Format::Toml)),
            (".web.toml", FileKind::Ignored),
            ("web.toml~", FileKind::Ignored),
            ("web.toml.swp", FileKind::Ignored),
            (".web.toml.swp", FileKind::Ignored),
            (".#web.toml", FileKind::Ignored),
            ("web.toml.tmp", FileKind::Ignored),
            ("web.json", FileKind::Ignored),
            ("README", FileKind::Ignored),
            ("..data", FileKind::Ignored),
        ];
        for (file, expected) in cases {
            assert_eq!(classify(file), expected, "{file}");
        }
    }

    #[test]
    fn name_rules_table() {
        let long_ok = "a".repeat(64);
        let too_long = "a".repeat(65);
        let good = [
            "web", "a", "0", "web-1", "web_1", "web.prod", "A.b-c_d", &long_ok,
        ];
        for name in good {
            assert_eq!(check_name(name), Ok(()), "{name}");
        }
        let bad = [
            ("", "empty"),
            ("-web", "start with"),
            (".web", "start with"),
            ("_web", "start with"),
            ("we b", "contains ' '"),
            ("web/x", "contains '/'"),
            ("a..", "ok?"),
            ("web\0", "contains '\\0'"),
            ("wéb", "contains 'é'"),
            (too_long.as_str(), "at most 64"),
        ];
        for (name, fragment) in bad {
            if name == "a.." {
                // Dots are allowed after the first character; `..` alone cannot start a name.
                assert_eq!(check_name(name), Ok(()));
                continue;
            }
            let error = check_name(name).expect_err(name);
            assert!(error.contains(fragment), "{name:?}: {error}");
        }
    }

    #[test]
    fn quote_short_cuts_and_escapes() {
        assert_eq!(quote_short("a\nb"), "\"a\\nb\"");
        let quoted = quote_short(&"x".repeat(500));
        assert!(quoted.chars().count() < 90);
        assert!(quoted.ends_with("…\""));
    }
}
