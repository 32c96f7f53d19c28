//! The statements that find a user and set a password in the configured
//! directory. Their text is built from the quoted names `load` resolved;
//! each runs as the owner of the table it touches (see `spi::as_role`).

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use super::{Directory, DisabledType, IdType, Lookup, Shape, User};
use crate::spi::{as_role, column, execute_text, first_row, not_null, query_text};

/// The condition a live row of the users table (`u`) meets.
fn live_condition(disabled: Option<&(String, DisabledType)>) -> String {
    match disabled {
        None => "true".to_owned(),
        // COALESCE is syntax, not a function: `pg_catalog.coalesce` does not exist.
        Some((col, DisabledType::Boolean)) => format!("u.{col} IS NOT TRUE"),
        Some((col, DisabledType::Timestamp)) => format!("u.{col} IS NULL"),
    }
}

/// How a user id is passed as a statement's first parameter: of the id
/// column's own type where it is an integer or text, so that the comparison
/// is `id = $1` (which Citus routes to one shard from a kept plan);
/// otherwise as text cast in the statement (also an integer id that does
/// not parse, which the cast then refuses).
#[derive(Debug, PartialEq, Eq)]
enum IdBinding {
    Bigint(i64),
    Integer(i32),
    Text,
    /// Text, cast to this type.
    Cast(&'static str),
}

impl IdBinding {
    fn of(id_type: IdType, id: &str) -> IdBinding {
        match id_type {
            IdType::Bigint => id
                .parse()
                .map_or(IdBinding::Cast(id_type.cast()), IdBinding::Bigint),
            IdType::Integer => id
                .parse()
                .map_or(IdBinding::Cast(id_type.cast()), IdBinding::Integer),
            IdType::Text => IdBinding::Text,
            IdType::Uuid => IdBinding::Cast(id_type.cast()),
        }
    }

    /// What the statement compares the id column with.
    fn placeholder(&self) -> String {
        match self {
            IdBinding::Cast(cast) => format!("CAST($1 AS {cast})"),
            _ => "$1".to_owned(),
        }
    }
}

fn user_from(row: &pgrx::spi::SpiHeapTupleData<'_>) -> User {
    User {
        id: not_null(row, "id"),
        email: not_null(row, "email"),
        name: column(row, "name"),
        locale: column(row, "locale"),
        password_hash: column(row, "password_hash"),
    }
}

impl Directory {
    /// The condition a user who may reset (`u`) meets: live, and passing the
    /// application's filter, which comes last (see `filter::conjunct`).
    fn eligible(&self) -> String {
        let live = live_condition(self.disabled.as_ref());
        match &self.filter {
            Some(filter) => format!("{live} AND {}", super::filter::conjunct(filter)),
            None => live,
        }
    }

    fn select_list(&self) -> String {
        let name = match &self.name {
            Some(col) => format!("u.{col}::pg_catalog.text"),
            None => "NULL::pg_catalog.text".to_owned(),
        };
        let locale = match &self.locale {
            Some(col) => format!("u.{col}::pg_catalog.text"),
            None => "NULL::pg_catalog.text".to_owned(),
        };
        let password_hash = match &self.password {
            Some(col) => format!("u.{col}::pg_catalog.text"),
            None => "NULL::pg_catalog.text".to_owned(),
        };
        format!(
            "u.{id}::pg_catalog.text AS id, u.{email}::pg_catalog.text AS email, {name} AS name, \
             {locale} AS locale, {password_hash} AS password_hash",
            id = self.id,
            email = self.email
        )
    }

    /// Up to two eligible users whose lower-cased email is $1.
    fn by_email_sql(&self) -> &str {
        self.by_email.get_or_init(|| {
            format!(
                "SELECT {list} FROM {users} u
              WHERE pg_catalog.lower(u.{email}::pg_catalog.text) = $1 AND {eligible}
              LIMIT 2",
                list = self.select_list(),
                users = self.users.name,
                email = self.email,
                eligible = self.eligible()
            )
        })
    }

    /// The eligible user with id `placeholder` whose lower-cased email is $2.
    fn holder_sql(&self, placeholder: &str) -> String {
        format!(
            "SELECT {list} FROM {users} u
              WHERE u.{id} = {placeholder}
                AND pg_catalog.lower(u.{email}::pg_catalog.text) = $2 AND {eligible}",
            list = self.select_list(),
            users = self.users.name,
            id = self.id,
            email = self.email,
            eligible = self.eligible()
        )
    }

    /// The eligible user (live, and passing the filter) whose lower-cased
    /// email is `identifier` (normalized by `email::normalize`). None when
    /// there is none, and also when several eligible users share the
    /// address: a token could not say whose password it resets, so nobody
    /// gets one. Users who fail the filter do not count: a password user
    /// whose single-sign-on twin the filter leaves out can reset.
    ///
    /// With an email lookup table, the candidates' ids come from it and each
    /// is confirmed in the users table by id (a stale lookup row can point
    /// nowhere else than at a user who has this email); without one, the
    /// users table is searched by `lower(email)` (an index on it serves).
    pub fn find_by_email(&self, client: &SpiClient<'_>, identifier: &str) -> Option<User> {
        if let Some(lookup) = &self.lookup {
            let ids = lookup_ids(client, lookup, identifier);
            let mut found = None;
            for id in ids {
                if let Some(user) = self.find_holder(client, &id, identifier) {
                    if found.is_some() {
                        return None;
                    }
                    found = Some(user);
                }
            }
            return found;
        }
        let sql = self.by_email_sql();
        as_role(self.users.owner, || {
            let table = query_text(client, sql, &[PgBuiltInOids::TEXTOID], &[identifier.into()]);
            if table.len() != 1 {
                return None;
            }
            first_row(table).map(|row| user_from(&row))
        })
    }

    /// The id as the statements' first parameter (see `IdBinding`).
    fn id_param<'a>(&self, id: &'a str) -> (String, PgBuiltInOids, DatumWithOid<'a>) {
        let binding = IdBinding::of(self.id_type, id);
        let placeholder = binding.placeholder();
        let (oid, arg) = match binding {
            IdBinding::Bigint(value) => (PgBuiltInOids::INT8OID, value.into()),
            IdBinding::Integer(value) => (PgBuiltInOids::INT4OID, value.into()),
            IdBinding::Text | IdBinding::Cast(_) => (PgBuiltInOids::TEXTOID, id.into()),
        };
        (placeholder, oid, arg)
    }

    /// The user a token was issued to, if that id is still eligible and
    /// still has the token's identifier (lower-cased email) as its email.
    pub fn find_holder(
        &self,
        client: &SpiClient<'_>,
        user_id: &str,
        identifier: &str,
    ) -> Option<User> {
        let (placeholder, id_oid, id_arg) = self.id_param(user_id);
        let sql = self.holder_sql(&placeholder);
        as_role(self.users.owner, || {
            let table = query_text(
                client,
                &sql,
                &[id_oid, PgBuiltInOids::TEXTOID],
                &[id_arg, identifier.into()],
            );
            first_row(table).map(|row| user_from(&row))
        })
    }

    /// Writes the new password hash where the application reads it.
    /// Returns whether a row was written.
    pub fn set_password(&self, client: &mut SpiClient<'_>, user: &User, stored: &str) -> bool {
        match self.shape {
            Shape::Table => {
                let password = self.password.as_deref().unwrap_or_else(|| {
                    crate::error::internal_error("user directory without a password column")
                });
                let (placeholder, id_oid, id_arg) = self.id_param(&user.id);
                let sql = format!(
                    "UPDATE {users} u SET {password} = $2 WHERE u.{id} = {placeholder}",
                    users = self.users.name,
                    id = self.id,
                );
                as_role(self.users.owner, || {
                    execute_text(
                        client,
                        &sql,
                        &[id_oid, PgBuiltInOids::TEXTOID],
                        &[id_arg, stored.into()],
                    )
                    .len()
                        == 1
                })
            }
            Shape::Nile => self.set_nile_credential(client, user, stored),
        }
    }

    /// Nile's login reads `auth.credentials`: one live EMAIL_PASSWORD row
    /// per user, its payload `{"crypt": "crypt-bf/<cost>", "hash", "email"}`.
    fn set_nile_credential(&self, client: &mut SpiClient<'_>, user: &User, payload: &str) -> bool {
        let Some(credentials) = &self.credentials else {
            crate::error::internal_error("Nile directory without a credentials table");
        };
        // Update, else insert: adopted Nile tables need not carry the
        // unique index an ON CONFLICT would infer. The token's row lock
        // serializes resets of one user.
        // The time is a parameter: Citus refuses some functions in
        // statements on distributed tables, so they name none.
        let update = format!(
            "UPDATE {table} c SET payload = $2::pg_catalog.jsonb, updated = $3
              WHERE c.user_id = CAST($1 AS pg_catalog.uuid) AND c.method = 'EMAIL_PASSWORD'
                AND c.provider = 'nile' AND c.deleted IS NULL",
            table = credentials.name
        );
        let insert = format!(
            "INSERT INTO {table} (user_id, method, provider, payload)
             VALUES (CAST($1 AS pg_catalog.uuid), 'EMAIL_PASSWORD', 'nile', $2::pg_catalog.jsonb)",
            table = credentials.name
        );
        let types = [PgBuiltInOids::TEXTOID, PgBuiltInOids::TEXTOID];
        let update_types = [
            PgBuiltInOids::TEXTOID,
            PgBuiltInOids::TEXTOID,
            PgBuiltInOids::TIMESTAMPTZOID,
        ];
        let now = pgrx::datum::transaction_timestamp();
        as_role(credentials.owner, || {
            let args = [user.id.as_str().into(), payload.into(), now.into()];
            if execute_text(client, &update, &update_types, &args).is_empty() {
                let args = [user.id.as_str().into(), payload.into()];
                execute_text(client, &insert, &types, &args);
            }
            true
        })
    }

    /// After the new hash is written: ends the user's sessions in Nile's
    /// `auth.sessions`, and calls the application's `on_password_reset`
    /// function (see `hook`). Returns whether either ran, which the
    /// `password_alert` email then says.
    pub fn end_sessions(&self, client: &mut SpiClient<'_>, user: &User) -> bool {
        let mut ended = false;
        if let Some(sessions) = &self.sessions {
            let delete = format!(
                "DELETE FROM {table} s WHERE s.user_id = CAST($1 AS pg_catalog.uuid)",
                table = sessions.name
            );
            as_role(sessions.owner, || {
                execute_text(
                    client,
                    &delete,
                    &[PgBuiltInOids::TEXTOID],
                    &[user.id.as_str().into()],
                );
            });
            ended = true;
        }
        if let Some(hook) = &self.hook {
            super::hook::call(client, hook, self.users.owner, &user.id);
            ended = true;
        }
        ended
    }
}

/// Up to two user ids the lookup table files under `identifier`. The key
/// column is compared as it is, so that Citus routes the query to the one
/// shard that holds the key.
fn lookup_ids(client: &SpiClient<'_>, lookup: &Lookup, identifier: &str) -> Vec<String> {
    let sql = lookup_ids_sql(lookup);
    as_role(lookup.table.owner, || {
        query_text(
            client,
            &sql,
            &[PgBuiltInOids::TEXTOID],
            &[identifier.into()],
        )
        .filter_map(|row| column::<String>(&row, "id"))
        .collect()
    })
}

fn lookup_ids_sql(lookup: &Lookup) -> String {
    format!(
        "SELECT l.{id}::pg_catalog.text AS id FROM {table} l WHERE l.{email} = $1 LIMIT 2",
        id = lookup.id,
        table = lookup.table.name,
        email = lookup.email
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::Relation;
    use crate::password::PasswordFormat;

    /// The owner is for `as_role`, which these tests do not reach.
    fn relation(name: &str) -> Relation {
        Relation {
            name: name.to_owned(),
            owner: pg_sys::Oid::INVALID,
        }
    }

    fn directory(id_type: IdType, disabled: Option<(&str, DisabledType)>) -> Directory {
        Directory {
            shape: Shape::Table,
            users: relation("app.\"People\""),
            id: "id".into(),
            id_type,
            email: "\"E-mail\"".into(),
            name: Some("name".into()),
            locale: None,
            password: Some("pw".into()),
            format: PasswordFormat::Bcrypt,
            disabled: disabled.map(|(col, kind)| (col.to_owned(), kind)),
            credentials: None,
            sessions: None,
            lookup: None,
            filter: None,
            hook: None,
            by_email: Default::default(),
        }
    }

    #[test]
    fn live_condition_follows_the_disabled_type() {
        assert_eq!(live_condition(None), "true");
        assert_eq!(
            live_condition(Some(&("off".into(), DisabledType::Boolean))),
            "u.off IS NOT TRUE"
        );
        assert_eq!(
            live_condition(Some(&("deleted".into(), DisabledType::Timestamp))),
            "u.deleted IS NULL"
        );
    }

    #[test]
    fn ids_bind_as_their_column_type_when_they_parse() {
        assert_eq!(IdBinding::of(IdType::Bigint, "-42"), IdBinding::Bigint(-42));
        assert_eq!(IdBinding::of(IdType::Integer, "7"), IdBinding::Integer(7));
        assert_eq!(IdBinding::of(IdType::Text, "anything"), IdBinding::Text);
        for binding in [IdBinding::Bigint(1), IdBinding::Integer(1), IdBinding::Text] {
            assert_eq!(binding.placeholder(), "$1");
        }
    }

    #[test]
    fn other_ids_are_cast_in_the_statement() {
        let uuid = IdBinding::of(IdType::Uuid, "0b6e1c1e-6c6b-4d3f-9a3e-6c7d1f0e2a4b");
        assert_eq!(uuid, IdBinding::Cast("pg_catalog.uuid"));
        assert_eq!(uuid.placeholder(), "CAST($1 AS pg_catalog.uuid)");
        // Too large for int4, and not a number: the cast reports them.
        assert_eq!(
            IdBinding::of(IdType::Integer, "4294967296"),
            IdBinding::Cast("pg_catalog.int4")
        );
        assert_eq!(
            IdBinding::of(IdType::Bigint, "12a").placeholder(),
            "CAST($1 AS pg_catalog.int8)"
        );
    }

    #[test]
    fn statements_read_text_and_only_live_users() {
        let dir = directory(IdType::Bigint, Some(("off", DisabledType::Boolean)));
        assert_eq!(
            dir.by_email_sql(),
            "SELECT u.id::pg_catalog.text AS id, u.\"E-mail\"::pg_catalog.text AS email, \
             u.name::pg_catalog.text AS name, NULL::pg_catalog.text AS locale, \
             u.pw::pg_catalog.text AS password_hash \
             FROM app.\"People\" u
              WHERE pg_catalog.lower(u.\"E-mail\"::pg_catalog.text) = $1 \
             AND u.off IS NOT TRUE
              LIMIT 2"
        );
        let dir = directory(IdType::Uuid, None);
        assert_eq!(
            dir.holder_sql("CAST($1 AS pg_catalog.uuid)"),
            "SELECT u.id::pg_catalog.text AS id, u.\"E-mail\"::pg_catalog.text AS email, \
             u.name::pg_catalog.text AS name, NULL::pg_catalog.text AS locale, \
             u.pw::pg_catalog.text AS password_hash \
             FROM app.\"People\" u
              WHERE u.id = CAST($1 AS pg_catalog.uuid)
                AND pg_catalog.lower(u.\"E-mail\"::pg_catalog.text) = $2 AND true"
        );
    }

    #[test]
    fn the_filter_is_the_last_condition() {
        let mut dir = directory(IdType::Integer, Some(("deleted", DisabledType::Timestamp)));
        dir.filter = Some("is_active -- Django".into());
        assert!(dir.by_email_sql().ends_with(
            "AND u.deleted IS NULL AND (\nis_active -- Django\n)
              LIMIT 2"
        ));
        assert!(dir
            .holder_sql("$1")
            .ends_with("= $2 AND u.deleted IS NULL AND (\nis_active -- Django\n)"));
    }

    #[test]
    fn lookup_compares_its_key_column_as_it_is() {
        let lookup = Lookup {
            table: relation("app.emails"),
            email: "email".into(),
            id: "user_id".into(),
        };
        assert_eq!(
            lookup_ids_sql(&lookup),
            "SELECT l.user_id::pg_catalog.text AS id FROM app.emails l WHERE l.email = $1 LIMIT 2"
        );
    }
}
