//! The one integration-test binary: it drives the real `hoody-daemon` executable.

mod support;
mod validate;
