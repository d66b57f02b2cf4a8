//! Upgrade fixtures (filled in below).
