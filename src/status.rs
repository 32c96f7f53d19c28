//! Token statuses: the spellings clients read from
//! `auth.verify_password_token(...).status` (the HTTP shim parses the same
//! three, exhaustively: shim/src/serve/sql_api.rs).

/// What a verification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    Valid,
    Expired,
    Invalid,
}

impl TokenStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Valid => "valid",
            TokenStatus::Expired => "expired",
            TokenStatus::Invalid => "invalid",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_are_the_contract() {
        assert_eq!(TokenStatus::Valid.as_str(), "valid");
        assert_eq!(TokenStatus::Expired.as_str(), "expired");
        assert_eq!(TokenStatus::Invalid.as_str(), "invalid");
    }
}
