//! Tables checked against supervisord 4.3's own functions (`expand`,
//! `dict_of_key_value_pairs`), and conversions of small configurations.

use super::*;
use crate::import::ini;

/// An input, its variables, and the text or a part of the error.
type ExpandCase = (
    &'static str,
    BTreeMap<String, Var>,
    Result<&'static str, &'static str>,
);
/// An input, and its pairs or a part of the error.
type PairsCase = (
    &'static str,
    Result<&'static [(&'static str, &'static str)], &'static str>,
);

fn vars(pairs: &[(&str, Var)]) -> BTreeMap<String, Var> {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.clone()))
        .collect()
}

#[test]
fn expansion_as_python_formats() {
    let text = |value: &str| Var::Text(value.into());
    let table: [ExpandCase; 12] = [
        ("%(a)s/x", vars(&[("a", text("v"))]), Ok("v/x")),
        ("%(n)02d", vars(&[("n", Var::Number(3))]), Ok("03")),
        ("%(n)d", vars(&[("n", Var::Number(12))]), Ok("12")),
        ("100%%", vars(&[]), Ok("100%")),
        ("%(a)5s|", vars(&[("a", text("ab"))]), Ok("   ab|")),
        ("%(a)-5s|", vars(&[("a", text("ab"))]), Ok("ab   |")),
        ("%(n)03d", vars(&[("n", Var::Number(-4))]), Ok("-04")),
        ("%(n)s", vars(&[("n", Var::Number(7))]), Ok("7")),
        (
            "%(missing)s",
            vars(&[("a", text("1"))]),
            Err("cannot be expanded"),
        ),
        ("50%", vars(&[]), Err("lone '%'")),
        ("%(a)d", vars(&[("a", text("x"))]), Err("needs a number")),
        ("%(a", vars(&[("a", text("x"))]), Err("unclosed %(")),
    ];
    for (input, variables, expected) in table {
        match (expand(input, &variables), expected) {
            (Ok(expanded), Ok(wanted)) => assert_eq!(expanded.text, wanted, "{input}"),
            (Err(message), Err(wanted)) => assert!(message.contains(wanted), "{input}: {message}"),
            (outcome, wanted) => panic!("{input}: {outcome:?}, expected {wanted:?}"),
        }
    }
    let used = expand(
        "%(ENV_A)s and %(ENV_B)s and %(ENV_A)s",
        &vars(&[("ENV_A", text("1")), ("ENV_B", text("2"))]),
    )
    .expect("expands");
    assert_eq!(used.used, ["ENV_A", "ENV_B"]);
}

#[test]
fn environment_pairs_as_supervisord_splits_them() {
    let table: [PairsCase; 11] = [
        ("KEY=\"a,b\",OTHER=c", Ok(&[("KEY", "a,b"), ("OTHER", "c")])),
        ("A=1,B=2", Ok(&[("A", "1"), ("B", "2")])),
        (
            "A='x y',B=\"/usr/bin:/bin\"",
            Ok(&[("A", "x y"), ("B", "/usr/bin:/bin")]),
        ),
        ("A=1, B=2", Ok(&[("A", "1"), ("B", "2")])),
        ("A=http://x/y", Ok(&[("A", "http://x/y")])),
        ("A=x#y,B=2", Ok(&[("A", "x")])),
        ("A=\"\"", Ok(&[("A", "")])),
        ("A=1,", Ok(&[("A", "1")])),
        ("K=v-1.2+3(4):5", Ok(&[("K", "v-1.2+3(4):5")])),
        ("A=a b,C=d", Err("not KEY=value pairs")),
        ("A=", Err("not KEY=value pairs")),
    ];
    for (input, expected) in table {
        match (environment_pairs(input), expected) {
            (Ok((pairs, _)), Ok(wanted)) => {
                let wanted: BTreeMap<String, String> = wanted
                    .iter()
                    .map(|(key, value)| (key.to_string(), value.to_string()))
                    .collect();
                assert_eq!(pairs, wanted, "{input}");
            }
            (Err(message), Err(wanted)) => assert!(message.contains(wanted), "{input}: {message}"),
            (outcome, wanted) => panic!("{input}: {outcome:?}, expected {wanted:?}"),
        }
    }
    // supervisord reads this as A=x and y=1, silently: the import says so.
    let (pairs, warnings) = environment_pairs("A=x?y=1").expect("parses");
    assert_eq!(pairs.get("A").map(String::as_str), Some("x"));
    assert_eq!(pairs.get("y").map(String::as_str), Some("1"));
    assert!(warnings[0].contains("stops before \"?\""), "{warnings:?}");
    assert!(environment_pairs("A=\"open").is_err());
}

#[test]
fn scalars_as_supervisord_reads_them() {
    for (text, value) in [
        ("true", Some(true)),
        ("Yes", Some(true)),
        ("on", Some(true)),
        ("1", Some(true)),
        ("false", Some(false)),
        ("OFF", Some(false)),
        ("0", Some(false)),
        ("maybe", None),
    ] {
        assert_eq!(boolean(text), value, "{text}");
    }
    for (text, bytes) in [
        ("50MB", Some(50 << 20)),
        ("1kb", Some(1024)),
        ("2GB", Some(2 << 30)),
        ("123", Some(123)),
        ("0", Some(0)),
        ("5TB", None),
        ("x", None),
    ] {
        assert_eq!(byte_size(text), bytes, "{text}");
    }
}

fn file(path: &str, text: &str, main: bool) -> SourceFile {
    SourceFile {
        path: PathBuf::from(path),
        display: path.to_string(),
        ini: ini::parse(text, path).expect("parses"),
        main,
    }
}

fn context() -> Context {
    Context {
        environment: [
            ("HOME".to_string(), "/home/deploy".to_string()),
            ("APP_PORT".to_string(), "8080".to_string()),
        ]
        .into_iter()
        .collect(),
        host_node_name: "box".into(),
        home: Some(PathBuf::from("/home/deploy")),
    }
}

fn program<'a>(imported: &'a Imported, name: &str) -> &'a ImportedProgram {
    imported
        .programs
        .iter()
        .find(|program| program.name == name)
        .unwrap_or_else(|| {
            panic!(
                "no {name} in {:?}",
                imported
                    .programs
                    .iter()
                    .map(|p| &p.name)
                    .collect::<Vec<_>>()
            )
        })
}

#[test]
fn includes_are_relative_to_the_main_file_and_expanded() {
    let main = file(
        "/etc/supervisor/supervisord.conf",
        "[supervisord]\n[include]\nfiles = conf.d/*.conf %(here)s/extra/%(host_node_name)s.ini /abs/*.conf\n",
        true,
    );
    assert_eq!(
        include_patterns(&main, &context()),
        Ok(vec![
            "/etc/supervisor/conf.d/*.conf".to_string(),
            "/etc/supervisor/extra/box.ini".to_string(),
            "/abs/*.conf".to_string(),
        ])
    );
    let broken = file("/etc/s.conf", "[include]\nother = x\n", true);
    assert!(include_patterns(&broken, &context()).is_err());
}

#[test]
fn a_configuration_with_includes_and_expansions() {
    let main = file(
        "/etc/supervisor/supervisord.conf",
        "\
[unix_http_server]
file=/var/run/supervisor.sock
chmod=0700

[supervisord]
logfile=/var/log/supervisor/supervisord.log
environment=LANG=\"C.UTF-8\",SHARED=from-supervisord
umask=027

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix:///var/run/supervisor.sock

[include]
files = conf.d/*.conf

[program:web]
command=/usr/bin/python3 -m http.server %(ENV_APP_PORT)s
directory=%(here)s/../www
environment=KEY=\"a,b\",OTHER=c,SHARED=mine
stdout_logfile=/var/log/%(program_name)s.out.log
redirect_stderr=true
stopasgroup=true
stdout_events_enabled=true
",
        true,
    );
    let included = file(
        "/etc/supervisor/conf.d/workers.conf",
        "\
[program:worker]
command=/usr/local/bin/worker --id %(process_num)d --of %(numprocs)d
process_name=%(program_name)s_%(process_num)02d
numprocs=2
autostart=false
autorestart=true
stopsignal=QUIT
stopwaitsecs=30
user=nobody
startsecs=0
exitcodes=0,2
stdout_logfile=logs/%(process_num)s.log
stdout_logfile_maxbytes=1MB
stdout_logfile_backups=3
stderr_logfile=NONE

[group:pool]
programs=worker

[eventlistener:crashmail]
command=crashmail

[include]
files=nested/*.conf
",
        false,
    );
    let imported = convert(&[main, included], &context()).expect("converts");
    let names: Vec<_> = imported
        .programs
        .iter()
        .map(|program| program.name.as_str())
        .collect();
    assert_eq!(names, ["web", "worker_00", "worker_01"]);

    let web = program(&imported, "web");
    let fields = serde_json::Value::Object(web.fields.clone());
    assert_eq!(fields["command"], "/usr/bin/python3 -m http.server 8080");
    assert_eq!(fields["directory"], "/etc/www");
    assert_eq!(fields["boot"], true);
    assert_eq!(fields["stopasgroup"], true);
    assert_eq!(fields["killasgroup"], true);
    assert_eq!(fields["umask"], "027");
    assert_eq!(fields["redirect_stderr"], true);
    assert_eq!(fields["stdout_logfile"], "/var/log/web.out.log");
    assert_eq!(
        fields["environment"],
        serde_json::json!({ "KEY": "a,b", "OTHER": "c", "SHARED": "mine", "LANG": "C.UTF-8" })
    );
    assert!(
        web.unmapped
            .iter()
            .any(|line| line.starts_with("stdout_events_enabled = true")),
        "{:?}",
        web.unmapped
    );
    assert!(
        web.notes
            .iter()
            .any(|line| line.contains("%(ENV_APP_PORT)s")),
        "{:?}",
        web.notes
    );
    assert!(
        web.notes.iter().any(|line| line.contains("boot = true")),
        "{:?}",
        web.notes
    );

    let worker = program(&imported, "worker_01");
    let fields = serde_json::Value::Object(worker.fields.clone());
    assert_eq!(fields["command"], "/usr/local/bin/worker --id 1 --of 2");
    assert_eq!(fields["boot"], false);
    assert_eq!(fields["autorestart"], "true");
    assert_eq!(fields["stopsignal"], "QUIT");
    assert_eq!(fields["stopwaitsecs"], 30);
    assert_eq!(fields["startsecs"], 0);
    assert_eq!(fields["user"], "nobody");
    assert_eq!(fields["exitcodes"], serde_json::json!([0, 2]));
    assert_eq!(fields["stopasgroup"], false);
    assert_eq!(fields["killasgroup"], false);
    // Relative to the file the value was written in.
    assert_eq!(
        fields["stdout_logfile"],
        "/etc/supervisor/conf.d/logs/1.log"
    );
    assert_eq!(fields["stdout_logfile_maxbytes"], "1MB");
    assert_eq!(fields["stdout_logfile_backups"], 3);
    assert_eq!(fields["stderr_logfile"], "none");
    assert!(
        worker.notes[0].starts_with("numprocs = 2: written as 2 programs (worker_00, worker_01)"),
        "{:?}",
        worker.notes
    );
    assert!(
        worker.source.contains("(process 2 of 2)"),
        "{}",
        worker.source
    );

    let unmapped = imported.unmapped.join("\n");
    for expected in [
        "[supervisord] logfile = /var/log/supervisor/supervisord.log",
        "[unix_http_server] file = /var/run/supervisor.sock: listen there with `serve --listen unix:PATH`",
        "[supervisorctl] serverurl",
        "[group:pool] programs = worker",
        "[eventlistener:crashmail]",
        "/etc/supervisor/conf.d/workers.conf: [include] in an included file is not followed",
    ] {
        assert!(
            unmapped.contains(expected),
            "{expected:?} not in\n{unmapped}"
        );
    }
    assert!(
        imported
            .notes
            .iter()
            .any(|note| note.contains("[rpcinterface:supervisor]")),
        "{:?}",
        imported.notes
    );

    // Every program checks as a file the daemon reads.
    for program in &imported.programs {
        let text = program.render(crate::spec::Format::Toml, "supervisord");
        assert_eq!(
            program.check(crate::spec::Format::Toml, &text),
            Ok(()),
            "{text}"
        );
    }
}

#[test]
fn supervisords_defaults_are_written_where_they_differ() {
    let only = file("/etc/x.conf", "[program:a]\ncommand=sleep 1\n", true);
    let imported = convert(&[only], &context()).expect("converts");
    let fields = serde_json::Value::Object(imported.programs[0].fields.clone());
    assert_eq!(
        fields,
        serde_json::json!({
            "command": "sleep 1",
            "boot": true,
            "stopasgroup": false,
            "killasgroup": false,
            "umask": "022",
        })
    );
}

#[test]
fn what_cannot_be_imported_is_an_error_naming_the_place() {
    let table: [(&str, &str); 9] = [
        ("[program:a]\ndirectory=/x\n", "has no command"),
        (
            "[program:a]\ncommand=x %(ENV_NOPE)s\n",
            "%(ENV_NOPE) cannot be expanded",
        ),
        (
            "[program:a]\ncommand=x\nnumprocs=2\n",
            "needs %(process_num) in process_name",
        ),
        (
            "[program:a]\ncommand=x\nstartsecs=soon\n",
            "is not an integer",
        ),
        (
            "[program:a]\ncommand=x\nstopasgroup=true\nkillasgroup=false\n",
            "stopasgroup = true with killasgroup = false",
        ),
        ("[program:a b]\ncommand=x\n", "holds ' '"),
        ("[program:a@b]\ncommand=x\n", "contains '@'"),
        (
            "[program:a]\ncommand=x\nenvironment=A=1 2,B=3\n",
            "not KEY=value pairs",
        ),
        (
            "[program:a]\ncommand=x\n[program:b]\ncommand=y\nprocess_name=a_%(process_num)s\nnumprocs=2\nnumprocs_start=0\n[program:a_0]\ncommand=z\n",
            "is also made by",
        ),
    ];
    for (text, wanted) in table {
        let errors = convert(&[file("/etc/s.conf", text, true)], &context()).expect_err(text);
        let all = errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(all.contains(wanted), "{text}: {all}");
        assert!(all.contains("/etc/s.conf:"), "{text}: no place in {all}");
    }
}

#[test]
fn unsupported_values_are_reported_and_left_out() {
    let text = "[program:a]\ncommand=x\nstopsignal=WINCH\nstdout_logfile=syslog\nserverurl=AUTO\nmystery=1\n";
    let imported = convert(&[file("/etc/s.conf", text, true)], &context()).expect("converts");
    let program = &imported.programs[0];
    let unmapped = program.unmapped.join("\n");
    for wanted in [
        "stopsignal = WINCH",
        "stdout_logfile = syslog",
        "serverurl = AUTO",
        "mystery = 1: not a supervisord setting",
    ] {
        assert!(unmapped.contains(wanted), "{wanted}: {unmapped}");
    }
    assert!(!program.fields.contains_key("stopsignal"));
}
