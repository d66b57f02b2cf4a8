//! Reference programs; see `src/bin`.
