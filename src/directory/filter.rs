//! `user_filter`: the application's rule of who may reset, a boolean SQL
//! expression over the users table's columns. The lookups paste its text
//! into their WHERE clause, so `configure` first checks here that the text
//! is exactly one expression, with PostgreSQL's own parser: text that closes
//! the parenthesis around it (`true) OR (true`) or adds clauses or
//! statements would change what the lookups select.

use std::ffi::{c_char, CString};

use pgrx::prelude::*;
use pgrx::{is_a, PgList, PgTryBuilder};

/// The filter as the last conjunct of a WHERE clause. The line breaks end a
/// trailing `--` comment before the closing parenthesis.
pub(super) fn conjunct(filter: &str) -> String {
    format!("(\n{filter}\n)")
}

/// The statement whose parse tree shows whether `conjunct` is one operand
/// of the AND before it: `probe AND (<filter>)` must parse as exactly that.
fn probe(filter: &str) -> String {
    format!("SELECT 1 WHERE probe AND {}", conjunct(filter))
}

/// 42601, the parser's own SQLSTATE for text that is not the expected SQL.
fn refuse(message: String) -> ! {
    crate::error::raise_with_hint(
        PgSqlErrorCode::ERRCODE_SYNTAX_ERROR,
        message,
        "user_filter is one boolean expression over the user table's columns, e.g. is_active AND password NOT LIKE '!%'",
    )
}

#[cfg(feature = "pg13")]
unsafe fn raw_parse(sql: *const c_char) -> *mut pg_sys::List {
    pg_sys::raw_parser(sql)
}

#[cfg(not(feature = "pg13"))]
unsafe fn raw_parse(sql: *const c_char) -> *mut pg_sys::List {
    pg_sys::raw_parser(sql, pg_sys::RawParseMode::RAW_PARSE_DEFAULT)
}

/// Parses `sql` with the given string-literal rules (the settings
/// `standard_conforming_strings`, `backslash_quote` on, and no
/// `escape_string_warning`, which would only warn of the rule not in use),
/// restoring the session's afterwards; a parse error is raised again as
/// 42601.
fn parse(sql: &CString, conforming_strings: bool) -> *mut pg_sys::List {
    // SAFETY: plain reads and writes of the scanner's settings, which it
    // reads when it starts; `finally` restores them.
    let saved = unsafe {
        (
            pg_sys::standard_conforming_strings,
            pg_sys::backslash_quote,
            pg_sys::escape_string_warning,
        )
    };
    let sql_ptr = sql.as_ptr();
    PgTryBuilder::new(|| unsafe {
        pg_sys::standard_conforming_strings = conforming_strings;
        pg_sys::backslash_quote = pg_sys::BackslashQuoteType::BACKSLASH_QUOTE_ON as _;
        pg_sys::escape_string_warning = false;
        // The parser only reads the string and allocates its tree in the
        // current memory context.
        raw_parse(sql_ptr)
    })
    .catch_others(|error| -> *mut pg_sys::List {
        refuse(format!(
            "user_filter is not a SQL expression: {}",
            crate::error::report_of(&error).message()
        ))
    })
    .finally(|| unsafe {
        (
            pg_sys::standard_conforming_strings,
            pg_sys::backslash_quote,
            pg_sys::escape_string_warning,
        ) = saved;
    })
    .execute()
}

/// Raises 42601 unless `filter` is one expression: the probe parses as one
/// plain SELECT whose only clause is a WHERE of exactly two AND operands,
/// `probe` and the filter. Anything that escapes the parentheses shows in
/// that tree: `OR` becomes the top node, a further `AND` a third operand,
/// `GROUP BY`, `LIMIT`, `UNION` ... clauses of their own, `;` a second
/// statement. It must hold under both rules for backslashes in string
/// literals, since the lookups are parsed with the calling session's
/// `standard_conforming_strings`: `'\'` ends a string under one and not
/// under the other. Whether it is boolean, and what it names, planning
/// tells (`configure`).
pub(super) fn check(filter: &str) {
    let Ok(sql) = CString::new(probe(filter)) else {
        refuse("user_filter must not contain a NUL character".into());
    };
    for conforming_strings in [true, false] {
        let statements = parse(&sql, conforming_strings);
        // SAFETY: a tree the parser just returned.
        if !unsafe { is_one_operand(statements) } {
            refuse(
                "user_filter must be exactly one expression, without clauses or statements of its own"
                    .into(),
            );
        }
    }
}

/// See `check`.
unsafe fn is_one_operand(statements: *mut pg_sys::List) -> bool {
    let statements = PgList::<pg_sys::RawStmt>::from_pg(statements);
    let Some(raw) = statements.get_ptr(0).filter(|_| statements.len() == 1) else {
        return false;
    };
    let node = (*raw).stmt;
    if node.is_null() || !is_a(node, pg_sys::NodeTag::T_SelectStmt) {
        return false;
    }
    let select = &*(node as *mut pg_sys::SelectStmt);
    let only_where = select.op == pg_sys::SetOperation::SETOP_NONE
        && PgList::<pg_sys::Node>::from_pg(select.targetList).len() == 1
        && select.distinctClause.is_null()
        && select.intoClause.is_null()
        && select.fromClause.is_null()
        && select.groupClause.is_null()
        && select.havingClause.is_null()
        && select.windowClause.is_null()
        && select.valuesLists.is_null()
        && select.sortClause.is_null()
        && select.limitOffset.is_null()
        && select.limitCount.is_null()
        && select.lockingClause.is_null()
        && select.withClause.is_null();
    let condition = select.whereClause;
    if !only_where || condition.is_null() || !is_a(condition, pg_sys::NodeTag::T_BoolExpr) {
        return false;
    }
    let and = &*(condition as *mut pg_sys::BoolExpr);
    let operands = PgList::<pg_sys::Node>::from_pg(and.args);
    and.boolop == pg_sys::BoolExprType::AND_EXPR
        && operands.len() == 2
        && operands
            .get_ptr(0)
            .is_some_and(|first| is_a(first, pg_sys::NodeTag::T_ColumnRef))
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[test]
    fn the_filter_is_the_last_conjunct_on_lines_of_its_own() {
        assert_eq!(super::conjunct("a -- b"), "(\na -- b\n)");
        assert_eq!(
            super::probe("is_active"),
            "SELECT 1 WHERE probe AND (\nis_active\n)"
        );
    }

    fn refused(filter: &str) -> bool {
        PgTryBuilder::new(|| {
            super::check(filter);
            false
        })
        .catch_when(PgSqlErrorCode::ERRCODE_SYNTAX_ERROR, |_| true)
        .execute()
    }

    #[pg_test]
    fn one_expression_is_accepted() {
        for filter in [
            "is_active AND password NOT LIKE '!%'",
            "banned_until IS NULL OR banned_until <= now()",
            "(a) = (b)",
            "NOT EXISTS (SELECT 1 FROM bans b WHERE b.user_id = id)",
            "is_active -- a comment",
            "x IN (SELECT 1 UNION SELECT 2)",
        ] {
            assert!(!refused(filter), "{filter:?}");
        }
    }

    #[pg_test]
    fn text_that_escapes_its_parentheses_is_refused() {
        for filter in [
            "true) OR (true",
            "true) AND (false",
            "true) FROM x WHERE (true",
            "true), (false",
            "true); DELETE FROM users; SELECT (true",
            "true) GROUP BY (1",
            "true) ORDER BY (1",
            "true) LIMIT (1",
            "true) UNION SELECT (1",
            "true) WINDOW w AS (",
            "",
            "true /* unterminated",
            // Two strings under standard_conforming_strings; without it the
            // backslash escapes the first quote and `OR (true` escapes.
            "email = '\\' || ') OR (true --'",
        ] {
            assert!(refused(filter), "{filter:?}");
        }
    }
}
