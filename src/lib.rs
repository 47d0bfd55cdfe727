//! hoody-daemon: a universal process manager driven by a folder of program files and an HTTP
//! API. See ARCHITECTURE.md for the map of the modules.

pub mod api;
pub mod cli;
pub mod daemon;
pub mod health;
pub mod import;
pub mod metrics;
pub mod reconcile;
pub mod spec;
pub mod store;
pub mod supervisor;
pub mod xmlrpc;
