//! The common-password blocklist applied at signup.

use std::collections::HashSet;
use std::sync::LazyLock;

/// One password per line, lower case; see `data/README.md` for its source.
const LIST: &str = include_str!("../data/common-passwords.txt");

static SET: LazyLock<HashSet<&'static str>> = LazyLock::new(|| LIST.lines().collect());

/// Whether `password` (compared case-insensitively) is on the list.
pub(crate) fn is_common(password: &str) -> bool {
    SET.contains(password.to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_usual_suspects_in_any_case() {
        assert!(is_common("password"));
        assert!(is_common("PassWord"));
        assert!(is_common("12345678"));
        assert!(!is_common("correct horse battery staple"));
    }
}
