//! Table tests of the program file format: each field with good and bad values, in both formats,
//! and the round trip of any valid spec through a file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use proptest::prelude::*;

use super::*;

/// Two known users, so the tests do not depend on the machine's /etc/passwd.
struct TestUsers;

impl UserDb for TestUsers {
    fn by_name(&self, name: &str) -> Option<UserSpec> {
        match name {
            "root" => self.by_uid(0),
            "www-data" => self.by_uid(33),
            _ => None,
        }
    }

    fn by_uid(&self, uid: u32) -> Option<UserSpec> {
        let (name, home) = match uid {
            0 => ("root", "/root"),
            33 => ("www-data", "/var/www"),
            _ => return None,
        };
        Some(UserSpec {
            name: name.to_string(),
            uid,
            gid: uid,
            home: PathBuf::from(home),
            shell: PathBuf::from("/bin/sh"),
        })
    }
}

fn read(format: Format, text: &str) -> Result<ProgramSpec, Vec<Problem>> {
    ProgramSpec::from_text("web", format, text, &TestUsers)
}

fn toml_with(field_line: &str) -> String {
    format!("command = \"sleep 10\"\n{field_line}\n")
}

fn yaml_with(field_line: &str) -> String {
    format!("command: sleep 10\n{field_line}\n")
}

#[test]
fn defaults_match_the_spec() {
    let spec = read(Format::Toml, "command = \"/usr/bin/node /app/server.js\"\n").expect("valid");
    assert_eq!(spec.name, "web");
    assert_eq!(spec.description, "");
    assert_eq!(spec.process.argv, ["/usr/bin/node", "/app/server.js"]);
    assert_eq!(spec.process.user, None);
    assert!(spec.enabled);
    assert!(!spec.boot);
    assert_eq!(spec.autorestart, AutoRestart::Unexpected);
    assert_eq!(spec.exitcodes, [0]);
    assert_eq!(spec.startsecs, Duration::from_secs(1));
    assert_eq!(spec.startretries, 3);
    assert_eq!(spec.stopsignal, StopSignal::Term);
    assert_eq!(spec.stopwaitsecs, Duration::from_secs(10));
    assert!(spec.stopasgroup && spec.killasgroup);
    assert_eq!(spec.process.directory, None);
    assert_eq!(spec.priority, 999);
    assert_eq!(spec.delay_seconds, Duration::ZERO);
    assert!(spec.process.environment.is_empty());
    assert_eq!(spec.process.stdout.target, LogTarget::Auto);
    assert_eq!(spec.process.stderr.target, LogTarget::Auto);
    assert!(!spec.process.redirect_stderr);
    assert_eq!(spec.process.stdout.max_bytes, 50 * 1024 * 1024);
    assert_eq!(spec.process.stderr.backups, 10);
    assert_eq!(spec.process.umask, None);
}

/// (field line in TOML, field line in YAML, check of the resulting spec)
type GoodCase = (&'static str, &'static str, fn(&ProgramSpec) -> bool);

#[test]
fn good_values_in_both_formats() {
    let cases: Vec<GoodCase> = vec![
        ("description = \"Main API\"", "description: Main API", |s| {
            s.description == "Main API"
        }),
        ("user = \"www-data\"", "user: www-data", |s| {
            s.process.user.as_ref().map(|u| u.uid) == Some(33)
        }),
        ("user = 33", "user: 33", |s| {
            s.process.user.as_ref().map(|u| u.name.as_str()) == Some("www-data")
        }),
        ("user = \"0\"", "user: \"0\"", |s| {
            s.process.user.as_ref().map(|u| u.uid) == Some(0)
        }),
        ("enabled = false", "enabled: false", |s| !s.enabled),
        ("enabled = \"false\"", "enabled: \"false\"", |s| !s.enabled),
        ("enabled = \"no\"", "enabled: no", |s| !s.enabled),
        ("boot = true", "boot: true", |s| s.boot),
        ("boot = \"true\"", "boot: \"true\"", |s| s.boot),
        ("boot = \"ON\"", "boot: \"ON\"", |s| s.boot),
        ("autorestart = \"true\"", "autorestart: \"true\"", |s| {
            s.autorestart == AutoRestart::True
        }),
        ("autorestart = true", "autorestart: true", |s| {
            s.autorestart == AutoRestart::True
        }),
        ("autorestart = \"false\"", "autorestart: \"false\"", |s| {
            s.autorestart == AutoRestart::False
        }),
        ("autorestart = false", "autorestart: false", |s| {
            s.autorestart == AutoRestart::False
        }),
        (
            "autorestart = \"unexpected\"",
            "autorestart: unexpected",
            |s| s.autorestart == AutoRestart::Unexpected,
        ),
        ("exitcodes = [0, 2]", "exitcodes: [0, 2]", |s| {
            s.exitcodes == [0, 2]
        }),
        ("exitcodes = \"0,2\"", "exitcodes: \"0,2\"", |s| {
            s.exitcodes == [0, 2]
        }),
        ("exitcodes = 3", "exitcodes: 3", |s| s.exitcodes == [3]),
        ("exitcodes = []", "exitcodes: []", |s| {
            s.exitcodes.is_empty()
        }),
        ("startsecs = 0", "startsecs: 0", |s| {
            s.startsecs == Duration::ZERO
        }),
        ("startsecs = 2.5", "startsecs: 2.5", |s| {
            s.startsecs == Duration::from_millis(2500)
        }),
        ("startretries = 0", "startretries: 0", |s| {
            s.startretries == 0
        }),
        ("stopsignal = \"INT\"", "stopsignal: INT", |s| {
            s.stopsignal == StopSignal::Int
        }),
        ("stopsignal = \"SIGQUIT\"", "stopsignal: SIGQUIT", |s| {
            s.stopsignal == StopSignal::Quit
        }),
        ("stopsignal = \"hup\"", "stopsignal: hup", |s| {
            s.stopsignal == StopSignal::Hup
        }),
        ("stopsignal = \"sigusr2\"", "stopsignal: sigusr2", |s| {
            s.stopsignal == StopSignal::Usr2
        }),
        ("stopwaitsecs = 30", "stopwaitsecs: 30", |s| {
            s.stopwaitsecs == Duration::from_secs(30)
        }),
        ("stopasgroup = false", "stopasgroup: false", |s| {
            !s.stopasgroup
        }),
        ("killasgroup = \"false\"", "killasgroup: \"false\"", |s| {
            !s.killasgroup
        }),
        ("directory = \"/app/api\"", "directory: /app/api", |s| {
            s.process.directory.as_deref() == Some(std::path::Path::new("/app/api"))
        }),
        ("priority = 10", "priority: 10", |s| s.priority == 10),
        ("priority = -5", "priority: -5", |s| s.priority == -5),
        ("delay_seconds = 3", "delay_seconds: 3", |s| {
            s.delay_seconds == Duration::from_secs(3)
        }),
        ("umask = \"022\"", "umask: \"022\"", |s| {
            s.process.umask == Some(0o022)
        }),
        ("umask = \"0o077\"", "umask: \"0o077\"", |s| {
            s.process.umask == Some(0o077)
        }),
        // serde_yaml reads an unquoted 022 as the string "022", which means what it says.
        ("umask = \"022\"", "umask: 022", |s| {
            s.process.umask == Some(0o022)
        }),
        ("redirect_stderr = true", "redirect_stderr: true", |s| {
            s.process.redirect_stderr
        }),
        ("log_timestamps = true", "log_timestamps: true", |s| {
            s.process.log_timestamps == Some(true)
        }),
        ("log_timestamps = \"false\"", "log_timestamps: false", |s| {
            s.process.log_timestamps == Some(false)
        }),
        ("console = false", "console: false", |s| !s.process.console),
        (
            "stdout_logfile = \"/var/log/api/stdout.log\"",
            "stdout_logfile: /var/log/api/stdout.log",
            |s| s.process.stdout.target == LogTarget::File("/var/log/api/stdout.log".into()),
        ),
        ("stdout_logfile = \"NONE\"", "stdout_logfile: none", |s| {
            s.process.stdout.target == LogTarget::None
        }),
        ("stderr_logfile = \"auto\"", "stderr_logfile: AUTO", |s| {
            s.process.stderr.target == LogTarget::Auto
        }),
        (
            "stdout_logfile_maxbytes = \"1MB\"",
            "stdout_logfile_maxbytes: 1MB",
            |s| s.process.stdout.max_bytes == 1 << 20,
        ),
        (
            "stdout_logfile_maxbytes = \"512 KB\"",
            "stdout_logfile_maxbytes: 512 kb",
            |s| s.process.stdout.max_bytes == 512 << 10,
        ),
        (
            "stderr_logfile_maxbytes = 0",
            "stderr_logfile_maxbytes: 0",
            |s| s.process.stderr.max_bytes == 0,
        ),
        (
            "stderr_logfile_maxbytes = \"2GB\"",
            "stderr_logfile_maxbytes: 2GiB",
            |s| s.process.stderr.max_bytes == 2 << 30,
        ),
        (
            "stdout_logfile_backups = 0",
            "stdout_logfile_backups: 0",
            |s| s.process.stdout.backups == 0,
        ),
        (
            "stderr_logfile_backups = 3",
            "stderr_logfile_backups: 3",
            |s| s.process.stderr.backups == 3,
        ),
        (
            "environment = { PORT = \"3000\", DEBUG = \"1\" }",
            "environment: {PORT: \"3000\", DEBUG: \"1\"}",
            |s| {
                s.process.environment.get("PORT").map(String::as_str) == Some("3000")
                    && s.process.environment.len() == 2
            },
        ),
        (
            "environment = { PORT = 3000, ON = true }",
            "environment: {PORT: 3000, ON: true}",
            |s| {
                s.process.environment.get("PORT").map(String::as_str) == Some("3000")
                    && s.process.environment.get("ON").map(String::as_str) == Some("true")
            },
        ),
        ("name = \"web\"", "name: web", |s| s.name == "web"),
        ("x-team = \"payments\"", "x-team: payments", |s| {
            s.name == "web"
        }),
    ];
    for (toml_line, yaml_line, check) in cases {
        let spec = read(Format::Toml, &toml_with(toml_line))
            .unwrap_or_else(|problems| panic!("TOML {toml_line:?}: {problems:?}"));
        assert!(check(&spec), "TOML {toml_line:?} gave {spec:?}");
        let spec = read(Format::Yaml, &yaml_with(yaml_line))
            .unwrap_or_else(|problems| panic!("YAML {yaml_line:?}: {problems:?}"));
        assert!(check(&spec), "YAML {yaml_line:?} gave {spec:?}");
    }
}

#[test]
fn command_forms() {
    let cases = [
        ("command = \"sleep 10\"", vec!["sleep", "10"]),
        (
            "command = \"sh -c 'echo hi; sleep 1'\"",
            vec!["sh", "-c", "echo hi; sleep 1"],
        ),
        (
            "command = \"printf \\\"%s\\\\n\\\" a\\\\ b\"",
            vec!["printf", "%s\\n", "a b"],
        ),
        (
            "command = [\"/bin/echo\", \"two words\", \"$HOME\"]",
            vec!["/bin/echo", "two words", "$HOME"],
        ),
    ];
    for (line, argv) in cases {
        let spec =
            read(Format::Toml, &format!("{line}\n")).unwrap_or_else(|p| panic!("{line}: {p:?}"));
        assert_eq!(spec.process.argv, argv, "{line}");
    }
}

/// (file text, format, the field at fault, a fragment of the message)
#[test]
fn bad_values_name_the_field() {
    let cases: Vec<(String, Format, &str, &str)> = vec![
        (
            "boot = true\n".into(),
            Format::Toml,
            "command",
            "is required",
        ),
        (
            "command = \"\"\n".into(),
            Format::Toml,
            "command",
            "is empty",
        ),
        (
            "command = \"   \"\n".into(),
            Format::Toml,
            "command",
            "is empty",
        ),
        (
            "command = []\n".into(),
            Format::Toml,
            "command",
            "empty list",
        ),
        (
            "command = [\"\"]\n".into(),
            Format::Toml,
            "command",
            "first item",
        ),
        (
            "command = [\"a\", 1]\n".into(),
            Format::Toml,
            "command",
            "item 1",
        ),
        (
            "command = \"sh -c 'oops\"\n".into(),
            Format::Toml,
            "command",
            "unclosed quote",
        ),
        (
            "command = 5\n".into(),
            Format::Toml,
            "command",
            "expected a string or a list",
        ),
        (
            toml_with("user = \"nosuchuser\""),
            Format::Toml,
            "user",
            "unknown user \"nosuchuser\"",
        ),
        (
            toml_with("user = 4242"),
            Format::Toml,
            "user",
            "no user has uid 4242",
        ),
        (
            toml_with("user = -1"),
            Format::Toml,
            "user",
            "not a valid uid",
        ),
        (toml_with("user = \"\""), Format::Toml, "user", "is empty"),
        (
            toml_with("enabled = \"maybe\""),
            Format::Toml,
            "enabled",
            "expected true or false",
        ),
        (
            toml_with("enabled = 2"),
            Format::Toml,
            "enabled",
            "expected true or false",
        ),
        (
            toml_with("boot = [true]"),
            Format::Toml,
            "boot",
            "expected true or false",
        ),
        (
            toml_with("autorestart = \"sometimes\""),
            Format::Toml,
            "autorestart",
            "\"unexpected\"",
        ),
        (
            toml_with("exitcodes = [256]"),
            Format::Toml,
            "exitcodes",
            "0 to 255",
        ),
        (
            toml_with("exitcodes = [-1]"),
            Format::Toml,
            "exitcodes",
            "0 to 255",
        ),
        (
            toml_with("exitcodes = \"0,x\""),
            Format::Toml,
            "exitcodes",
            "0 to 255",
        ),
        (
            toml_with("startsecs = -1"),
            Format::Toml,
            "startsecs",
            "from 0 to",
        ),
        (
            toml_with("startsecs = 1e9"),
            Format::Toml,
            "startsecs",
            "from 0 to",
        ),
        (
            toml_with("startsecs = nan"),
            Format::Toml,
            "startsecs",
            "finite",
        ),
        (
            toml_with("startsecs = \"soon\""),
            Format::Toml,
            "startsecs",
            "seconds",
        ),
        (
            toml_with("startretries = 1.5"),
            Format::Toml,
            "startretries",
            "integer",
        ),
        (
            toml_with("startretries = 99999999999"),
            Format::Toml,
            "startretries",
            "integer",
        ),
        (
            toml_with("stopsignal = \"STOP\""),
            Format::Toml,
            "stopsignal",
            "unknown signal \"STOP\"",
        ),
        (
            toml_with("stopsignal = 15"),
            Format::Toml,
            "stopsignal",
            "expected a signal name",
        ),
        (
            toml_with("stopwaitsecs = -3"),
            Format::Toml,
            "stopwaitsecs",
            "from 0 to",
        ),
        (
            toml_with("stopasgroup = \"x\""),
            Format::Toml,
            "stopasgroup",
            "expected true or false",
        ),
        (
            toml_with("directory = \"app\""),
            Format::Toml,
            "directory",
            "relative",
        ),
        (
            toml_with("directory = \"\""),
            Format::Toml,
            "directory",
            "empty",
        ),
        (
            toml_with("priority = 99999999999"),
            Format::Toml,
            "priority",
            "integer from",
        ),
        (
            toml_with("priority = \"high\""),
            Format::Toml,
            "priority",
            "integer from",
        ),
        (
            toml_with("delay_seconds = -1"),
            Format::Toml,
            "delay_seconds",
            "from 0 to",
        ),
        (
            toml_with("umask = 22"),
            Format::Toml,
            "umask",
            "octal string",
        ),
        (
            toml_with("umask = \"999\""),
            Format::Toml,
            "umask",
            "octal string",
        ),
        (
            toml_with("umask = \"7777\""),
            Format::Toml,
            "umask",
            "octal string",
        ),
        (
            toml_with("redirect_stderr = \"x\""),
            Format::Toml,
            "redirect_stderr",
            "true or false",
        ),
        (
            toml_with("stdout_logfile = \"out.log\""),
            Format::Toml,
            "stdout_logfile",
            "relative",
        ),
        (
            toml_with("stdout_logfile = \"/var/log/\""),
            Format::Toml,
            "stdout_logfile",
            "folder",
        ),
        (
            toml_with("stderr_logfile = 3"),
            Format::Toml,
            "stderr_logfile",
            "expected a string",
        ),
        (
            toml_with("stdout_logfile_maxbytes = \"50XB\""),
            Format::Toml,
            "stdout_logfile_maxbytes",
            "size",
        ),
        (
            toml_with("stdout_logfile_maxbytes = -1"),
            Format::Toml,
            "stdout_logfile_maxbytes",
            "size",
        ),
        (
            toml_with("stderr_logfile_maxbytes = \"99999999999GB\""),
            Format::Toml,
            "stderr_logfile_maxbytes",
            "size",
        ),
        (
            toml_with("stderr_logfile_maxbytes = \"2048GB\""),
            Format::Toml,
            "stderr_logfile_maxbytes",
            "over the limit",
        ),
        (
            toml_with("stdout_logfile_backups = -2"),
            Format::Toml,
            "stdout_logfile_backups",
            "integer",
        ),
        (
            toml_with("environment = \"A=1\""),
            Format::Toml,
            "environment",
            "expected a table",
        ),
        (
            toml_with("environment = { \"A=B\" = \"1\" }"),
            Format::Toml,
            "environment",
            "without '='",
        ),
        (
            toml_with("environment = { \"\" = \"1\" }"),
            Format::Toml,
            "environment",
            "non-empty",
        ),
        (
            toml_with("environment = { A = [1] }"),
            Format::Toml,
            "environment",
            "must be a string",
        ),
        (
            toml_with("name = \"api\""),
            Format::Toml,
            "name",
            "does not match",
        ),
        (
            toml_with("autorestrat = true"),
            Format::Toml,
            "autorestrat",
            "did you mean `autorestart`",
        ),
        (
            toml_with("colour = \"red\""),
            Format::Toml,
            "colour",
            "unknown field",
        ),
        (
            toml_with("created = 1979-05-27"),
            Format::Toml,
            "created",
            "dates",
        ),
        (
            yaml_with("user: nosuchuser"),
            Format::Yaml,
            "user",
            "unknown user",
        ),
        (
            yaml_with("umask: 18"),
            Format::Yaml,
            "umask",
            "octal string",
        ),
        (
            yaml_with("boot: maybe"),
            Format::Yaml,
            "boot",
            "true or false",
        ),
        (
            yaml_with("environment: [A, B]"),
            Format::Yaml,
            "environment",
            "expected a table",
        ),
        (
            yaml_with("environment: {A: ~}"),
            Format::Yaml,
            "environment",
            "must be a string",
        ),
        (
            yaml_with("stopsignal: TERMINATE"),
            Format::Yaml,
            "stopsignal",
            "unknown signal",
        ),
        (
            yaml_with("priority: .nan"),
            Format::Yaml,
            "priority",
            "finite",
        ),
        (yaml_with("tags: !custom x"), Format::Yaml, "tags", "tags"),
        (
            yaml_with("autostart: true"),
            Format::Yaml,
            "autostart",
            "did you mean",
        ),
    ];
    for (text, format, field, fragment) in cases {
        let problems = read(format, &text).expect_err(&text);
        let matching = problems
            .iter()
            .find(|problem| problem.field.as_deref() == Some(field));
        let Some(problem) = matching else {
            panic!("{text:?}: no problem names field {field}: {problems:?}");
        };
        assert!(
            problem.message.contains(fragment),
            "{text:?}: {problem} lacks {fragment:?}"
        );
        // A missing field has no place in the file; every other problem points at its line.
        if problem.message != "is required" {
            assert!(problem.line.is_some(), "{text:?}: {problem} has no line");
        }
    }
}

#[test]
fn every_problem_is_reported_at_once_with_lines() {
    let text = "command = \"\"\nboot = \"maybe\"\nautorestrat = true\nuser = \"ghost\"\n";
    let problems = read(Format::Toml, text).expect_err("four problems");
    let fields: Vec<_> = problems.iter().filter_map(|p| p.field.clone()).collect();
    assert_eq!(
        fields,
        ["command", "boot", "autorestrat", "user"],
        "{problems:?}"
    );
    let lines: Vec<_> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [Some(1), Some(2), Some(3), Some(4)]);
    let problems = read(
        Format::Toml,
        "command = \"x\"\nuser = \"ghost\"\nname = \"api\"\n",
    )
    .expect_err("two problems");
    assert_eq!(problems.len(), 2, "{problems:?}");
}

#[test]
fn file_level_problems() {
    let cases: Vec<(Vec<u8>, Format, &str)> = vec![
        (b"command = \"x\"\n\0\0\0".to_vec(), Format::Toml, "NUL"),
        (
            b"- just\n- a list\n".to_vec(),
            Format::Yaml,
            "must be a mapping",
        ),
        (
            b"\"quoted string\"\n".to_vec(),
            Format::Yaml,
            "must be a mapping",
        ),
        (b"command = \n".to_vec(), Format::Toml, "invalid TOML"),
        (b"command: [\n".to_vec(), Format::Yaml, "invalid YAML"),
        (
            b"? [a]\n: b\n".to_vec(),
            Format::Yaml,
            "keys must be strings",
        ),
        (vec![b'x'; MAX_FILE_BYTES + 1], Format::Toml, "limited to"),
    ];
    for (bytes, format, fragment) in cases {
        let text = String::from_utf8(bytes).expect("utf-8");
        let problems = read(format, &text).expect_err(fragment);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains(fragment), "{:?}", problems[0]);
        assert!(
            problems[0].message.len() < 300,
            "short: {}",
            problems[0].message
        );
    }
    let problem = decode(b"command = \"\xff\xfe\"").expect_err("not utf-8");
    assert!(problem.message.contains("not valid UTF-8"), "{problem}");
    assert_eq!(problem.line, Some(1));
}

#[test]
fn deep_nesting_and_alias_bombs_are_refused_quickly() {
    let deep_toml = format!(
        "command = {}1{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let problems = read(Format::Toml, &deep_toml).expect_err("too deep");
    assert!(
        problems[0].message.contains("invalid TOML"),
        "{:?}",
        problems[0]
    );
    let deep_yaml = format!("command: {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let problems = read(Format::Yaml, &deep_yaml).expect_err("too deep");
    assert!(
        problems[0].message.contains("invalid YAML"),
        "{:?}",
        problems[0]
    );
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for level in 1..10 {
        let previous = (b'a' + level - 1) as char;
        let name = (b'a' + level) as char;
        bomb.push_str(&format!(
            "{name}: &{name} [*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous}]\n"
        ));
    }
    bomb.push_str("command: sleep 1\n");
    let problems = read(Format::Yaml, &bomb).expect_err("bomb");
    assert!(!problems.is_empty());
}

#[test]
fn problem_display_names_file_line_and_field() {
    let problem = Problem::field("boot", "expected true or false")
        .at(3, 1)
        .in_file(std::path::Path::new("programs.d/web.toml"));
    assert_eq!(
        problem.to_string(),
        "programs.d/web.toml:3:1: field `boot`: expected true or false"
    );
}

#[test]
fn the_seeds_full_example_is_valid_in_both_formats() {
    let json = serde_json::json!({
        "name": "api-server",
        "description": "Main REST API server",
        "command": "/usr/bin/node /app/api/server.js",
        "user": "www-data",
        "enabled": true,
        "boot": true,
        "autorestart": "true",
        "directory": "/app/api",
        "priority": 10,
        "stdout_logfile": "/var/log/api/stdout.log",
        "stderr_logfile": "/var/log/api/stderr.log",
        "environment": {"NODE_ENV": "production", "PORT": "3000", "DB_HOST": "localhost"}
    });
    let serde_json::Value::Object(fields) = json else {
        panic!("object");
    };
    for format in [Format::Toml, Format::Yaml] {
        let text = render(format, &fields);
        let spec = ProgramSpec::from_text("api-server", format, &text, &TestUsers)
            .unwrap_or_else(|problems| panic!("{format:?}\n{text}\n{problems:?}"));
        assert_eq!(spec.process.argv, ["/usr/bin/node", "/app/api/server.js"]);
        assert_eq!(spec.autorestart, AutoRestart::True);
        assert_eq!(spec.priority, 10);
        assert_eq!(spec.process.environment.len(), 3);
    }
}

fn arbitrary_spec() -> impl Strategy<Value = ProgramSpec> {
    let word = "[a-zA-Z0-9 _./'\"$-]{0,12}";
    let name = "[a-zA-Z0-9][a-zA-Z0-9_.-]{0,20}";
    let millis = 0u64..100_000;
    let log = (
        prop_oneof![
            Just(LogTarget::Auto),
            Just(LogTarget::None),
            "/[a-z]{1,8}/[a-z]{1,8}\\.log".prop_map(|path| LogTarget::File(PathBuf::from(path))),
        ],
        prop_oneof![0u64..10_000_000, (0u64..1000).prop_map(|n| n << 20)],
        0u32..50,
    )
        .prop_map(|(target, max_bytes, backups)| LogSpec {
            target,
            max_bytes,
            backups,
        });
    let head = (
        name,
        "[ -~]{0,30}",
        prop::collection::vec(word, 1..5).prop_filter("program", |argv| !argv[0].is_empty()),
        prop::option::of(prop_oneof![Just("root"), Just("www-data")]),
        any::<(bool, bool, bool, bool, bool)>(),
        prop_oneof![
            Just(AutoRestart::True),
            Just(AutoRestart::False),
            Just(AutoRestart::Unexpected)
        ],
        prop::collection::vec(0i32..256, 0..4),
    );
    let tail = (
        (millis.clone(), millis.clone(), millis),
        0u32..100,
        prop::sample::select(StopSignal::ALL.to_vec()),
        any::<i32>(),
        prop::option::of("/[a-z]{1,10}"),
        prop::collection::btree_map("[A-Z_][A-Z0-9_]{0,8}", "[ -~]{0,12}", 0..4),
        prop::option::of(0u32..0o777),
        (log.clone(), log),
        arbitrary_health(),
    );
    (head, tail).prop_map(
        |(
            (name, description, argv, user, flags, autorestart, exitcodes),
            (
                (startsecs, stopwaitsecs, delay),
                startretries,
                stopsignal,
                priority,
                directory,
                environment,
                umask,
                (stdout, stderr),
                (healthcheck, depends_on, ready_log_line, notify, watchdog),
            ),
        )| {
            let (enabled, boot, stopasgroup, killasgroup, redirect_stderr) = flags;
            // What validation refuses: a program that depends on itself, a ready line that
            // no log could show.
            let mut depends_on = depends_on;
            depends_on.remove(&name);
            let discarded = stdout.target == LogTarget::None
                && (redirect_stderr || stderr.target == LogTarget::None);
            let ready_log_line = ready_log_line.filter(|_| !discarded);
            ProgramSpec {
                name,
                description,
                enabled,
                boot,
                autorestart,
                exitcodes,
                startsecs: Duration::from_millis(startsecs),
                startretries,
                stopsignal,
                stopwaitsecs: Duration::from_millis(stopwaitsecs),
                stopasgroup,
                killasgroup,
                priority,
                delay_seconds: Duration::from_millis(delay),
                healthcheck: healthcheck.map(Box::new),
                depends_on,
                limits: crate::spec::Limits::default(),
                process: ProcessSpec {
                    argv,
                    user: user.and_then(|name| TestUsers.by_name(name)).map(Box::new),
                    directory: directory.map(PathBuf::from),
                    environment: environment.into_iter().collect::<BTreeMap<_, _>>(),
                    umask,
                    stdout,
                    stderr,
                    redirect_stderr,
                    // Derived from other draws (the tuple is full): every value is reached.
                    log_timestamps: umask.map(|mask| mask % 2 == 0),
                    console: boot || !enabled,
                    ready_log_line,
                    notify,
                    watchdog: watchdog.filter(|_| notify),
                },
            }
        },
    )
}

type HealthParts = (
    Option<Healthcheck>,
    BTreeMap<String, Condition>,
    Option<String>,
    bool,
    Option<Duration>,
);

fn arbitrary_health() -> impl Strategy<Value = HealthParts> {
    let probe = prop_oneof![
        prop::collection::vec("[a-z0-9 ./-]{1,8}", 1..3)
            .prop_filter("program", |argv| !argv[0].trim().is_empty())
            .prop_map(Probe::Exec),
        (1u16..65535, "(/[a-z0-9]{0,6}){0,2}").prop_map(|(port, path)| {
            let url = format!("http://127.0.0.1:{port}{path}");
            Probe::Http(health::http_target(&url).expect("valid url"))
        }),
        (1u16..65535).prop_map(|port| {
            Probe::Tcp(health::tcp_target(&format!("[::1]:{port}")).expect("valid target"))
        }),
    ];
    let check = (
        probe,
        100u64..100_000,
        100u64..10_000,
        1u32..20,
        0u64..100_000,
        any::<bool>(),
    )
        .prop_map(
            |(probe, interval, timeout, retries, start_period, restart)| Healthcheck {
                probe,
                interval: Duration::from_millis(interval),
                timeout: Duration::from_millis(timeout),
                retries,
                start_period: Duration::from_millis(start_period),
                on_unhealthy: if restart {
                    OnUnhealthy::Restart
                } else {
                    OnUnhealthy::None
                },
            },
        );
    (
        prop::option::of(check),
        prop::collection::btree_map(
            "[a-z][a-z0-9-]{0,6}",
            prop::sample::select(Condition::ALL.to_vec()),
            0..3,
        ),
        prop::option::of("[ -~]{1,20}"),
        any::<bool>(),
        prop::option::of((1u64..100_000).prop_map(Duration::from_millis)),
    )
        .prop_map(|(check, depends_on, line, notify, watchdog)| {
            (check, depends_on, line, notify, watchdog)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any valid spec written to TOML or YAML and read back is the same spec.
    #[test]
    fn round_trip_through_both_formats(spec in arbitrary_spec()) {
        for format in [Format::Toml, Format::Yaml] {
            let text = render(format, &spec.to_fields());
            let read_back = ProgramSpec::from_text(&spec.name, format, &text, &TestUsers);
            prop_assert_eq!(read_back.as_ref(), Ok(&spec), "{:?}:\n{}", format, text);
        }
    }

    /// No text, however broken, makes the reader panic; it always answers.
    #[test]
    fn any_text_gets_an_answer(text in "\\PC{0,200}") {
        let _ = ProgramSpec::from_text("web", Format::Toml, &text, &TestUsers);
        let _ = ProgramSpec::from_text("web", Format::Yaml, &text, &TestUsers);
    }
}

#[test]
fn health_fields_in_both_formats() {
    let toml = "command = \"sleep 10\"\nready_log_line = \"listening on\"\nnotify = true\nwatchdog_sec = 5\ndepends_on = { db = \"ready\", migrate = \"completed_successfully\", cache = \"started\" }\n\n[healthcheck]\nexec = \"pg_isready -h 127.0.0.1\"\ninterval = 5\ntimeout = 1.5\nretries = 2\nstart_period = 30\non_unhealthy = \"none\"\n";
    let yaml = "command: sleep 10\nready_log_line: listening on\nnotify: true\nwatchdog_sec: 5\ndepends_on: {db: ready, migrate: completed_successfully, cache: started}\nhealthcheck:\n  exec: [pg_isready, -h, 127.0.0.1]\n  interval: 5\n  timeout: 1.5\n  retries: 2\n  start_period: 30\n  on_unhealthy: none\n";
    for (format, text) in [(Format::Toml, toml), (Format::Yaml, yaml)] {
        let spec = read(format, text).unwrap_or_else(|p| panic!("{format:?}: {p:?}"));
        let check = spec.healthcheck.clone().expect("a healthcheck");
        assert_eq!(
            check.probe,
            Probe::Exec(vec!["pg_isready".into(), "-h".into(), "127.0.0.1".into()])
        );
        assert_eq!(check.interval, Duration::from_secs(5));
        assert_eq!(check.timeout, Duration::from_millis(1500));
        assert_eq!(check.retries, 2);
        assert_eq!(check.start_period, Duration::from_secs(30));
        assert_eq!(check.on_unhealthy, OnUnhealthy::None);
        assert_eq!(spec.process.ready_log_line.as_deref(), Some("listening on"));
        assert!(spec.process.notify);
        assert_eq!(spec.process.watchdog, Some(Duration::from_secs(5)));
        assert_eq!(spec.depends_on.len(), 3);
        assert_eq!(spec.depends_on["db"], Condition::Ready);
        assert_eq!(spec.depends_on["migrate"], Condition::CompletedSuccessfully);
        assert_eq!(spec.depends_on["cache"], Condition::Started);
    }
    // The defaults, the list form and the other probes.
    let spec = read(
        Format::Toml,
        "command = \"x\"\ndepends_on = [\"db\", \"cache\"]\n[healthcheck]\nhttp = \"http://127.0.0.1:8080/healthz\"\n",
    )
    .expect("valid");
    let check = spec.healthcheck.expect("a healthcheck");
    assert_eq!(check.interval, Duration::from_secs(10));
    assert_eq!(check.timeout, Duration::from_secs(2));
    assert_eq!(check.retries, 3);
    assert_eq!(check.start_period, Duration::ZERO);
    assert_eq!(check.on_unhealthy, OnUnhealthy::Restart);
    let Probe::Http(target) = check.probe else {
        panic!("an http probe")
    };
    assert_eq!(target.address.to_string(), "127.0.0.1:8080");
    assert_eq!(target.path, "/healthz");
    assert_eq!(target.host, "127.0.0.1:8080");
    assert!(spec.depends_on.values().all(|c| *c == Condition::Started));
    assert!(!spec.process.notify);
    assert_eq!(spec.process.watchdog, None);
    // A non-loopback target is fine.
    let spec = read(
        Format::Yaml,
        "command: x\nhealthcheck: {tcp: \"10.1.2.3:5432\"}\nwatchdog_sec: 0\n",
    )
    .expect("valid");
    assert!(matches!(
        spec.healthcheck.map(|c| c.probe),
        Some(Probe::Tcp(_))
    ));
    // Without any of these fields, nothing is set.
    let spec = read(Format::Toml, "command = \"x\"\n").expect("valid");
    assert!(spec.healthcheck.is_none() && spec.depends_on.is_empty());
    assert!(spec.process.ready_log_line.is_none() && !spec.process.notify);
}

#[test]
fn bad_health_fields_name_the_field() {
    let cases: Vec<(&str, &str, &str)> = vec![
        (
            "[healthcheck]\nexec = \"true\"\nhttp = \"http://127.0.0.1/\"\n",
            "healthcheck",
            "exec and http are all set",
        ),
        (
            "[healthcheck]\ninterval = 5\n",
            "healthcheck",
            "has no probe",
        ),
        (
            "[healthcheck]\nhttp = \"https://127.0.0.1/\"\n",
            "healthcheck.http",
            "https",
        ),
        (
            "[healthcheck]\nhttp = \"127.0.0.1:80\"\n",
            "healthcheck.http",
            "not an http:// URL",
        ),
        (
            "[healthcheck]\nhttp = \"http://web.internal/\"\n",
            "healthcheck.http",
            "not an IP address",
        ),
        (
            "[healthcheck]\ntcp = \"127.0.0.1\"\n",
            "healthcheck.tcp",
            "no port",
        ),
        (
            "[healthcheck]\nexec = \"\"\n",
            "healthcheck.exec",
            "is empty",
        ),
        (
            "[healthcheck]\nexec = \"true\"\ninterval = 0\n",
            "healthcheck.interval",
            "from 0.1",
        ),
        (
            "[healthcheck]\nexec = \"true\"\ntimeout = -1\n",
            "healthcheck.timeout",
            "from 0.1",
        ),
        (
            "[healthcheck]\nexec = \"true\"\nretries = 0\n",
            "healthcheck.retries",
            "from 1",
        ),
        (
            "[healthcheck]\nexec = \"true\"\nstart_period = \"soon\"\n",
            "healthcheck.start_period",
            "seconds",
        ),
        (
            "[healthcheck]\nexec = \"true\"\non_unhealthy = \"kill\"\n",
            "healthcheck.on_unhealthy",
            "\"restart\" or \"none\"",
        ),
        (
            "[healthcheck]\nexec = \"true\"\nintervall = 3\n",
            "healthcheck.intervall",
            "did you mean `interval`",
        ),
        (
            "healthcheck = \"curl\"\n",
            "healthcheck",
            "expected a table",
        ),
        ("ready_log_line = \"\"\n", "ready_log_line", "is empty"),
        ("ready_log_line = \"a\\nb\"\n", "ready_log_line", "one line"),
        (
            "ready_log_line = \"up\"\nstdout_logfile = \"none\"\nstderr_logfile = \"none\"\n",
            "ready_log_line",
            "never be seen",
        ),
        ("notify = \"maybe\"\n", "notify", "true or false"),
        ("watchdog_sec = 3\n", "watchdog_sec", "needs notify = true"),
        ("depends_on = \"db\"\n", "depends_on", "expected a list"),
        (
            "depends_on = [\"db\", \"db\"]\n",
            "depends_on",
            "listed twice",
        ),
        ("depends_on = [\"-db\"]\n", "depends_on", "start with"),
        (
            "depends_on = { db = \"healthy\" }\n",
            "depends_on",
            "started, ready, completed_successfully",
        ),
        (
            "depends_on = [\"web\"]\n",
            "depends_on",
            "depends on itself",
        ),
    ];
    for (extra, field, fragment) in cases {
        let text = format!("command = \"sleep 10\"\n{extra}");
        let problems = read(Format::Toml, &text).expect_err(&text);
        let Some(problem) = problems
            .iter()
            .find(|problem| problem.field.as_deref() == Some(field))
        else {
            panic!("{text:?}: no problem names {field}: {problems:?}");
        };
        assert!(
            problem.message.contains(fragment),
            "{text:?}: {problem} lacks {fragment:?}"
        );
        assert!(problem.line.is_some(), "{text:?}: {problem} has no line");
    }
    // Two bad keys of one table are two problems.
    let problems = read(
        Format::Toml,
        "command = \"x\"\n[healthcheck]\nexec = \"true\"\ninterval = 0\nretries = 0\n",
    )
    .expect_err("two problems");
    assert_eq!(problems.len(), 2, "{problems:?}");
}
