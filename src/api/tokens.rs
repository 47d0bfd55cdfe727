//! Bearer tokens and their roles (SPEC §10): `serve --tokens-file FILE`, and the one admin token
//! of `--token-file` / `HOODY_DAEMON_TOKEN`.
//!
//! ```toml
//! [[tokens]]
//! name = "grafana"        # recorded in the audit trail and the daemon's log
//! role = "read"           # read | operate | admin
//! sha256 = "9f86d0…"      # hex SHA-256 of the secret (or: token = "plain secret")
//! ```
//!
//! Only SHA-256 digests are kept in memory (a plain `token` is hashed when the file is read). A
//! request's token is hashed once and compared with every digest, each comparison without an
//! early exit, and all of them made whatever matches: the time taken tells neither which
//! token nor how much of one matched. The file is refused when its group or others may read or
//! write it, and every problem names the file and the entry.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::openapi::Role;

/// One token: its name, its role, the digest of its secret.
#[derive(Clone)]
struct Token {
    name: Arc<str>,
    role: Role,
    digest: [u8; 32],
}

impl std::fmt::Debug for Token {
    /// Never the digest.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Token")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// Every token the daemon accepts; empty when none is configured (then peer credentials
/// decide).
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    tokens: Vec<Token>,
}

/// The name the `--token-file` / `HOODY_DAEMON_TOKEN` token has in the audit trail.
pub const ADMIN_TOKEN_NAME: &str = "admin-token";

/// One `[[tokens]]` entry as written.
struct Entry {
    name: String,
    role: String,
    sha256: Option<String>,
    token: Option<String>,
}

/// The entries of a tokens file's text (TOML, read with the parser the program files use).
fn entries(text: &str) -> Result<Vec<Entry>, String> {
    let document = toml_edit::Document::parse(text).map_err(|error| {
        // The message of a parse error is its first line: the rest quotes the file, and the
        // line could hold a secret.
        let message = error
            .message()
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        match error.span() {
            Some(span) => {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                format!("line {line}: invalid TOML: {message}")
            }
            None => format!("invalid TOML: {message}"),
        }
    })?;
    let mut entries = Vec::new();
    for (key, item) in document.as_table().iter() {
        if key != "tokens" {
            return Err(format!(
                "unknown key `{key}`; the file holds [[tokens]] entries"
            ));
        }
        let Some(tables) = item.as_array_of_tables() else {
            return Err("`tokens` must be [[tokens]] tables".to_string());
        };
        for (index, table) in tables.iter().enumerate() {
            let at = format!("token {}", index + 1);
            let mut entry = Entry {
                name: String::new(),
                role: String::new(),
                sha256: None,
                token: None,
            };
            for (field, value) in table.iter() {
                let Some(text) = value.as_str() else {
                    return Err(format!("{at}: `{field}` must be a string"));
                };
                let text = text.to_string();
                match field {
                    "name" => entry.name = text,
                    "role" => entry.role = text,
                    "sha256" => entry.sha256 = Some(text),
                    "token" => entry.token = Some(text),
                    _ => {
                        return Err(format!(
                            "{at}: unknown field `{field}`; a token has name, role, and sha256 or token"
                        ));
                    }
                }
            }
            entries.push(entry);
        }
    }
    Ok(entries)
}

fn sha256(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Compares without an early exit.
fn same_digest(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut difference = 0u8;
    for (x, y) in a.iter().zip(b) {
        difference |= x ^ y;
    }
    // Keep the compiler from turning the loop back into an early-exit comparison.
    std::hint::black_box(difference) == 0
}

fn hex_digest(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 {
        return None;
    }
    let mut digest = [0u8; 32];
    for (index, byte) in digest.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(index * 2..index * 2 + 2)?, 16).ok()?;
    }
    Some(digest)
}

impl Tokens {
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Adds the one admin token (`--token-file`, `HOODY_DAEMON_TOKEN`).
    pub fn add_admin(&mut self, secret: &str) -> Result<(), String> {
        let digest = sha256(secret);
        if self
            .tokens
            .iter()
            .any(|token| same_digest(&token.digest, &digest))
        {
            return Err(
                "the admin token (--token-file / HOODY_DAEMON_TOKEN) is also in the tokens file"
                    .to_string(),
            );
        }
        self.tokens.push(Token {
            name: Arc::from(ADMIN_TOKEN_NAME),
            role: Role::Admin,
            digest,
        });
        Ok(())
    }

    /// The name and role of the token a request offers, if it is one of ours.
    pub fn find(&self, offered: &str) -> Option<(Arc<str>, Role)> {
        let digest = sha256(offered);
        let mut found = None;
        for token in &self.tokens {
            if same_digest(&token.digest, &digest) {
                found = Some((Arc::clone(&token.name), token.role));
            }
        }
        found
    }

    /// Reads a tokens file, refusing one that its group or others can read or write.
    pub fn load(path: &Path) -> Result<Tokens, String> {
        let shown = path.display();
        let file = std::fs::File::open(path)
            .map_err(|error| format!("cannot read the tokens file {shown}: {error}"))?;
        let metadata = file
            .metadata()
            .map_err(|error| format!("cannot read the tokens file {shown}: {error}"))?;
        let mode = metadata.mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "the tokens file {shown} has mode {mode:04o}: its group or others can read or change it; \
                 chmod 600 {shown}"
            ));
        }
        let text = std::io::read_to_string(file)
            .map_err(|error| format!("cannot read the tokens file {shown}: {error}"))?;
        Tokens::parse(&text).map_err(|problem| format!("the tokens file {shown}: {problem}"))
    }

    /// The tokens of a tokens file's text.
    pub fn parse(text: &str) -> Result<Tokens, String> {
        let entries = entries(text)?;
        if entries.is_empty() {
            return Err("it has no [[tokens]] entry".to_string());
        }
        let mut tokens = Tokens::default();
        for (index, entry) in entries.into_iter().enumerate() {
            let at = format!("token {} ({:?})", index + 1, entry.name);
            let name = entry.name.trim();
            if name.is_empty()
                || name.len() > 64
                || name.chars().any(|c| c.is_control() || c.is_whitespace())
            {
                return Err(format!(
                    "{at}: `name` must be 1 to 64 characters, no spaces or control characters"
                ));
            }
            if tokens.tokens.iter().any(|token| &*token.name == name) {
                return Err(format!("{at}: the name is used twice"));
            }
            let role = match entry.role.as_str() {
                "read" => Role::Read,
                "operate" => Role::Operate,
                "admin" => Role::Admin,
                _ => return Err(format!("{at}: `role` must be read, operate or admin")),
            };
            let digest = match (&entry.sha256, &entry.token) {
                (Some(hex), None) => hex_digest(hex).ok_or_else(|| {
                    format!("{at}: `sha256` must be 64 hex digits (sha256sum of the secret)")
                })?,
                (None, Some(secret)) if !secret.trim().is_empty() => sha256(secret.trim()),
                (None, Some(_)) => return Err(format!("{at}: `token` is empty")),
                _ => {
                    return Err(format!(
                        "{at}: give exactly one of `sha256` (hex digest of the secret) or `token`"
                    ));
                }
            };
            if tokens
                .tokens
                .iter()
                .any(|token| same_digest(&token.digest, &digest))
            {
                return Err(format!("{at}: the same secret as another token"));
            }
            tokens.tokens.push(Token {
                name: Arc::from(name),
                role,
                digest,
            });
        }
        Ok(tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// sha256("test").
    const TEST_DIGEST: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn digests_and_plain_tokens_are_found_by_their_secret() {
        let tokens = Tokens::parse(&format!(
            "[[tokens]]\nname = \"grafana\"\nrole = \"read\"\nsha256 = \"{}\"\n\n[[tokens]]\nname = \"ops\"\nrole = \"operate\"\ntoken = \"s3cret\"\n",
            TEST_DIGEST.to_uppercase()
        ))
        .unwrap();
        let found = |secret| {
            tokens
                .find(secret)
                .map(|(name, role)| (name.to_string(), role))
        };
        assert_eq!(found("test"), Some(("grafana".to_string(), Role::Read)));
        assert_eq!(found("s3cret"), Some(("ops".to_string(), Role::Operate)));
        assert_eq!(found("s3cre"), None);
        assert_eq!(found(""), None);
        assert!(!format!("{tokens:?}").contains("9f86"));
    }

    #[test]
    fn bad_files_are_refused_with_the_entry_named() {
        let cases: &[(&str, &str)] = &[
            ("", "no [[tokens]]"),
            (
                "[[tokens]]\nname = \"a\"\nrole = \"root\"\ntoken = \"x\"\n",
                "`role` must be",
            ),
            (
                "[[tokens]]\nname = \"a\"\nrole = \"read\"\n",
                "exactly one of",
            ),
            (
                "[[tokens]]\nname = \"a\"\nrole = \"read\"\ntoken = \"x\"\nsha256 = \"00\"\n",
                "exactly one of",
            ),
            (
                "[[tokens]]\nname = \"a\"\nrole = \"read\"\nsha256 = \"abc\"\n",
                "64 hex digits",
            ),
            (
                "[[tokens]]\nname = \"a\"\nrole = \"read\"\ntoken = \"x\"\n[[tokens]]\nname = \"a\"\nrole = \"read\"\ntoken = \"y\"\n",
                "used twice",
            ),
            (
                "[[tokens]]\nname = \"a\"\nrole = \"read\"\ntoken = \"x\"\n[[tokens]]\nname = \"b\"\nrole = \"admin\"\ntoken = \"x\"\n",
                "same secret",
            ),
            (
                "[[tokens]]\nname = \"a\"\nrole = \"read\"\ntoken = \"x\"\ncolour = 1\n",
                "colour",
            ),
            (
                "[[tokens]]\nname = \"a b\"\nrole = \"read\"\ntoken = \"x\"\n",
                "`name` must be",
            ),
            ("tokens = \"secret-value\" junk\n", "line 1"),
            (
                "[[tokens]]\nname = \"a\"\nrole = \"read\"\ntoken = 5\n",
                "must be a string",
            ),
            ("other = 1\n", "unknown key"),
        ];
        for (text, expected) in cases {
            let error = Tokens::parse(text).unwrap_err();
            assert!(error.contains(expected), "{text:?}: {error}");
            assert!(!error.contains("secret-value"), "{error}");
        }
    }

    #[test]
    fn a_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("tokens.toml");
        std::fs::write(
            &path,
            "[[tokens]]\nname = \"a\"\nrole = \"read\"\ntoken = \"x\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = Tokens::load(&path).unwrap_err();
        assert!(
            error.contains("mode 0644") && error.contains("tokens.toml"),
            "{error}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(Tokens::load(&path).unwrap().find("x").is_some());
    }
}
