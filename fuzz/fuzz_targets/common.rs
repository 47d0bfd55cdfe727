//! A user database that never touches the system's (getpwnam is slow and not what is fuzzed).

use std::path::PathBuf;

use hoody_daemon::spec::{UserDb, UserSpec};

pub struct FakeUsers;

fn user(name: &str, uid: u32) -> UserSpec {
    UserSpec {
        name: name.to_string(),
        uid,
        gid: uid,
        home: PathBuf::from("/"),
        shell: PathBuf::from("/bin/sh"),
    }
}

impl UserDb for FakeUsers {
    fn by_name(&self, name: &str) -> Option<UserSpec> {
        match name {
            "root" => Some(user("root", 0)),
            "nobody" => Some(user("nobody", 65534)),
            _ => None,
        }
    }

    fn by_uid(&self, uid: u32) -> Option<UserSpec> {
        match uid {
            0 => Some(user("root", 0)),
            65534 => Some(user("nobody", 65534)),
            _ => None,
        }
    }
}
