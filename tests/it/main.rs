//! The one integration-test binary: it drives the real `hoody-daemon` executable.

mod cli;
mod convergence;
mod support;
mod validate;
