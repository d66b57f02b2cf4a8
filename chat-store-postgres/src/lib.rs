//! Placeholder: this crate is planned and not yet implemented.
