//! Glob patterns as Python's `glob` reads them (supervisord's `[include] files = conf.d/*.conf`),
//! one path component at a time: `*`, `?`, `[abc]`, `[a-z]`, `[!abc]`; a name starting with `.`
//! is matched only by a pattern starting with `.`. **Pure**: listing folders is the caller's.

/// Whether a path component holds a wildcard.
pub fn has_magic(component: &str) -> bool {
    component.contains(['*', '?', '['])
}

/// Whether `name` (one path component) matches `pattern`.
pub fn matches(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    matches_from(&pattern, &name)
}

fn matches_from(pattern: &[char], name: &[char]) -> bool {
    // Iterative with one backtrack point per `*`, as fnmatch's translation to a regex behaves.
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() {
            match pattern[p] {
                '*' => {
                    star = Some((p, n));
                    p += 1;
                    continue;
                }
                '?' => {
                    p += 1;
                    n += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class(&pattern[p..], name[n]) {
                        if matched {
                            p += next;
                            n += 1;
                            continue;
                        }
                    } else if name[n] == '[' {
                        // An unclosed `[` is a plain character.
                        p += 1;
                        n += 1;
                        continue;
                    }
                }
                literal if literal == name[n] => {
                    p += 1;
                    n += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((star_p, star_n)) => {
                p = star_p + 1;
                n = star_n + 1;
                star = Some((star_p, star_n + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|character| *character == '*')
}

/// A `[...]` class at the start of `pattern`: whether `character` is in it, and the class's
/// length; `None` when the `[` is not closed.
fn class(pattern: &[char], character: char) -> Option<(bool, usize)> {
    let mut index = 1;
    let negated = matches!(pattern.get(index), Some('!'));
    if negated {
        index += 1;
    }
    let start = index;
    let mut matched = false;
    loop {
        let current = *pattern.get(index)?;
        // A `]` right after `[` or `[!` is a member, not the end.
        if current == ']' && index > start {
            break;
        }
        if pattern.get(index + 1) == Some(&'-')
            && let Some(&high) = pattern.get(index + 2)
            && high != ']'
        {
            if (current..=high).contains(&character) {
                matched = true;
            }
            index += 3;
            continue;
        }
        if current == character {
            matched = true;
        }
        index += 1;
    }
    Some((matched != negated, index + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_table() {
        let table = [
            ("*.conf", "web.conf", true),
            ("*.conf", "web.ini", false),
            ("*.conf", ".hidden.conf", false),
            (".*.conf", ".hidden.conf", true),
            ("*", "anything", true),
            ("*", "", true),
            ("web?.conf", "web1.conf", true),
            ("web?.conf", "web.conf", false),
            ("[abc]*.conf", "b.conf", true),
            ("[abc]*.conf", "d.conf", false),
            ("[!abc]*.conf", "d.conf", true),
            ("[!abc]*.conf", "a.conf", false),
            ("[a-c]1", "b1", true),
            ("[a-c]1", "d1", false),
            ("[]]x", "]x", true),
            ("[x", "[x", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("*.conf", "a.conf.bak", false),
            ("**.conf", "a.conf", true),
            ("exact.conf", "exact.conf", true),
            ("été*", "été.conf", true),
        ];
        for (pattern, name, expected) in table {
            assert_eq!(matches(pattern, name), expected, "{pattern} ~ {name}");
        }
        assert!(has_magic("*.conf"));
        assert!(has_magic("web[12]"));
        assert!(!has_magic("conf.d"));
    }
}
