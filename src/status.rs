//! Token statuses: the spellings clients read from
//! `auth.verify_password_token(...).status`, checked in SQL by the domain
//! `nile_reset.token_status` (sql/schema.sql).

/// What a verification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    Valid,
    Expired,
    Invalid,
}

impl TokenStatus {
    #[cfg(any(test, feature = "pg_test"))]
    pub const ALL: [TokenStatus; 3] = [
        TokenStatus::Valid,
        TokenStatus::Expired,
        TokenStatus::Invalid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Valid => "valid",
            TokenStatus::Expired => "expired",
            TokenStatus::Invalid => "invalid",
        }
    }

    #[cfg(any(test, feature = "pg_test"))]
    pub fn parse(value: &str) -> Option<TokenStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for status in TokenStatus::ALL {
            assert_eq!(TokenStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(TokenStatus::parse("Valid"), None);
    }
}
