//! The one integration-test binary: it drives the real `hoody-daemon` executable.

mod api;
mod cli;
mod convergence;
mod faults;
mod hostile;
mod lifecycle;
mod property;
mod supervision;
mod support;
mod validate;
