//! The API's JSON bodies: any JSON object as the fields of `POST /programs/add`
//! (`RawProgram::from_fields`, then validation) and as the changes of `POST /programs/edit`
//! (`spec::edit` of a TOML file with comments and of a YAML file). Never a panic; an edit that
//! succeeds produces a file that parses.

#![no_main]

use hoody_daemon::spec::{Format, RawProgram, edit, parse};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

mod common;

const TOML: &str = "# a comment that must survive\ncommand = \"sleep 10\" # why\nboot = true\n\n[environment]\nA = \"1\"\n";
const YAML: &str = "# a comment\ncommand: sleep 10\nboot: true\nenvironment:\n  A: \"1\"\n";

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Ok(raw) = RawProgram::from_fields(&fields) {
        let _ = raw.into_spec("fuzz", &common::FakeUsers);
    }
    for (format, text) in [(Format::Toml, TOML), (Format::Yaml, YAML)] {
        if let Ok(edited) = edit(format, text, &fields) {
            if let Err(problem) = parse(format, &edited) {
                panic!("an edit wrote a file that does not parse: {problem}\n{edited}");
            }
        }
    }
});
