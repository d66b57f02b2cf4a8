//! Reference programs; see `src/bin`.

/// The README's Rust code, compiled as a doc test so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
