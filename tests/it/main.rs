//! The one integration-test binary: it drives the real `hoody-daemon` executable.

mod api;
mod cli;
mod convergence;
mod dashboard;
mod faults;
mod habits;
mod health;
mod hostile;
mod import;
mod lifecycle;
mod logs;
mod metrics;
mod openapi;
mod property;
mod scale;
mod security;
mod supervision;
mod supervisorctl;
mod support;
mod trips;
mod validate;
