//! The program file parser: any bytes, as TOML or YAML. It must answer (a spec or problems),
//! never panic, hang or blow up; and a spec it accepts, written back out, reads as the same spec.

#![no_main]

use hoody_daemon::spec::{Format, ProgramSpec, decode, render};
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let format = if first & 1 == 0 { Format::Toml } else { Format::Yaml };
    let Ok(text) = decode(rest) else {
        return;
    };
    match ProgramSpec::from_text("fuzz", format, text, &common::FakeUsers) {
        Ok(spec) => {
            let written = render(format, &spec.to_fields());
            let again = ProgramSpec::from_text("fuzz", format, &written, &common::FakeUsers)
                .unwrap_or_else(|problems| {
                    panic!("a written spec does not read back: {problems:?}\n{written}")
                });
            assert_eq!(spec, again, "round trip through\n{written}");
        }
        Err(problems) => {
            assert!(!problems.is_empty(), "an error names at least one problem");
        }
    }
});
