//! What programs cost and how it is shown (SPEC §14): reading a process tree's CPU time and
//! memory from `/proc` (`procfs`), or a program's from its cgroup and its members' `statm`
//! (`leaf`), `cpu_percent` between two reads (`cpu`), the Prometheus
//! text format (`exposition`) and the families of `GET /metrics` (`report`). The parsers,
//! the percentage, the writer and the families are pure, tested with tables; the daemon's
//! loop does the reading when a status or a scrape asks (`daemon/resources.rs`), never on a
//! timer, but for the programs that set `max_memory_restart`.

pub mod cpu;
pub mod exposition;
pub mod leaf;
pub mod procfs;
pub mod report;

pub use cpu::{Identity, Samples};
pub use exposition::CONTENT_TYPE;
pub use procfs::{Stat, Units, Usage};
pub use report::{Compat, DaemonFigures, ProgramFigures};
