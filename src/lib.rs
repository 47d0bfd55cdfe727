//! hoody-daemon: a universal process manager driven by a folder of program files and an HTTP
//! API. See ARCHITECTURE.md for the map of the modules.

pub mod spec;
pub mod supervisor;
