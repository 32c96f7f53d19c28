//! `auth.generate_password_token` and its trusted sibling
//! `auth.generate_password_link`: Nile's reset-password request, in the
//! caller's transaction.

use std::cell::RefCell;
use std::rc::Rc;

use pgrx::datum::TimestampWithTimeZone;
use pgrx::fcinfo::pg_getarg;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use pgrx::datum::DatumWithOid;

use crate::directory::{self, Directory, User};
use crate::email::check_email;
use crate::error::{internal_error, or_raise, required, ArgError};
use crate::links::{origin_of, parse_http_url, LinkPattern};
use crate::one_row::{self, one_row_function};
use crate::outbox::{
    outbox_columns, wake, wake_args, wake_expression, Email, EMAIL_ARGS, EMAIL_TYPES, WAKE_ARGS,
    WAKE_TYPES,
};
use crate::settings::{MIN_RESEND_INTERVAL_SECONDS, TOKEN_TTL_SECONDS};
use crate::spi::{execute_growing, first_row, not_null, types, Statement};
use crate::templates::load_template;
use crate::token;

/// Replaces the identifier's token for user $5 unless one was issued to that user inside
/// the resend interval ($4 seconds); returns the new expiry, or no row when nothing may
/// happen. $5 is NULL when the email belongs to no live user: then nothing is even tried.
/// The resend check is a plain read in the INSERT's own query, so a request inside the
/// interval neither locks nor writes the row (and gives the transaction no id); the
/// ON CONFLICT clause repeats it for the row a concurrent request just committed. Two
/// sessions racing for one identifier serialize on its primary key.
macro_rules! issue_sql {
    () => {
        "INSERT INTO nile_reset.verification_tokens AS t
                 (identifier, user_id, token, expires, created)
          SELECT $1, $5, $2, now() + $3 * interval '1 second', now()
           WHERE $5 IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM nile_reset.verification_tokens r
                              WHERE r.identifier = $1 AND r.user_id = $5
                                AND r.created > now() - $4 * interval '1 second')
          ON CONFLICT (identifier) DO UPDATE
             SET user_id = excluded.user_id, token = excluded.token, expires = excluded.expires,
                 created = excluded.created
           WHERE t.created <= now() - $4 * interval '1 second' OR t.user_id <> excluded.user_id
          RETURNING t.identifier, t.expires"
    };
}

/// How many parameters `issue_sql` takes (`Request::issue_args`), and their types.
const ISSUE_ARGS: usize = 5;
const ISSUE_TYPES: [PgBuiltInOids; ISSUE_ARGS] = [
    PgBuiltInOids::TEXTOID,
    PgBuiltInOids::TEXTOID,
    PgBuiltInOids::INT4OID,
    PgBuiltInOids::INT4OID,
    PgBuiltInOids::TEXTOID,
];

/// The token alone (`generate_password_link`: no email).
const ISSUE: Statement = Statement {
    sql: issue_sql!(),
    args: &ISSUE_TYPES,
};

/// The token and, when one was issued, its email ($6-$11, `Email::args`),
/// in one statement: no row when nothing may happen. The outbox INSERT is
/// the statement itself, not a second CTE, so that it returns its row
/// directly.
macro_rules! issue_and_queue_sql {
    ($returning:expr) => {
        concat!(
            "WITH issued AS (",
            issue_sql!(),
            ") INSERT INTO ",
            outbox_columns!(),
            " SELECT $6, $7, $8, $9, $10, $11, i.expires FROM issued i
              RETURNING q.id, q.link_expires AS expires",
            $returning
        )
    };
}

const QUEUE_TYPES: [PgBuiltInOids; ISSUE_ARGS + EMAIL_ARGS] = types(ISSUE_TYPES, EMAIL_TYPES);

/// `issue_and_queue_sql` without the wake-up: a batch wakes once, at its end,
/// and with `nile_reset.wakeups = off` nothing does.
const ISSUE_AND_QUEUE: Statement = Statement {
    sql: issue_and_queue_sql!(""),
    args: &QUEUE_TYPES,
};

const QUEUE_AND_WAKE_TYPES: [PgBuiltInOids; ISSUE_ARGS + EMAIL_ARGS + WAKE_ARGS] =
    types(QUEUE_TYPES, WAKE_TYPES);

/// `issue_and_queue_sql` and the wake-up ($12-$14, `outbox::wake_args`).
const ISSUE_QUEUE_AND_WAKE: Statement = Statement {
    sql: issue_and_queue_sql!(concat!(", ", wake_expression!("$12", "$13", "$14"))),
    args: &QUEUE_AND_WAKE_TYPES,
};

/// A request, looked up and ready: its user (None: the email belongs to no
/// live user), a fresh token's digest and the link that carries it.
struct Request {
    identifier: String,
    user: Option<User>,
    digest: String,
    link: String,
}

/// The request's URLs, checked: their origins and the link they make.
struct Urls {
    callback_origin: String,
    redirect_origin: String,
    link: LinkPattern,
}

thread_local! {
    /// The last pair of URL texts and what they parsed to. Parsing is a pure
    /// function of the text (trust is checked on every call), and an app
    /// passes the same two URLs on every request.
    static LAST_URLS: RefCell<Option<(String, String, Rc<Urls>)>> = const { RefCell::new(None) };
}

/// Parses both URLs (the callback URL's errors first), or takes the last
/// call's result when the texts are the same.
fn parsed_urls(callback_raw: &str, redirect_raw: &str) -> Rc<Urls> {
    let last = LAST_URLS.with_borrow(|last| {
        last.as_ref()
            .filter(|(callback, redirect, _)| callback == callback_raw && redirect == redirect_raw)
            .map(|(_, _, urls)| Rc::clone(urls))
    });
    if let Some(urls) = last {
        return urls;
    }
    let callback = or_raise(parse_http_url("callback_url", callback_raw));
    let redirect = or_raise(parse_http_url("redirect_url", redirect_raw));
    let urls = Rc::new(Urls {
        callback_origin: origin_of(&callback),
        redirect_origin: origin_of(&redirect),
        link: LinkPattern::new(&redirect, callback.as_str()),
    });
    LAST_URLS.set(Some((
        callback_raw.to_owned(),
        redirect_raw.to_owned(),
        Rc::clone(&urls),
    )));
    urls
}

/// Validates both URLs and checks that their origins are trusted.
fn trusted_urls(
    client: &SpiClient<'_>,
    callback_url: Option<&str>,
    redirect_url: Option<&str>,
) -> Rc<Urls> {
    let callback_raw = required(callback_url, "callback_url");
    let redirect_raw = required(redirect_url, "redirect_url");
    let urls = parsed_urls(callback_raw, redirect_raw);
    for (name, origin) in [
        ("callback", &urls.callback_origin),
        ("redirect", &urls.redirect_origin),
    ] {
        if !crate::origins::is_trusted(client, origin) {
            // A Citus worker has no origins at all: say that instead.
            crate::citus::refuse_on_worker(client);
            ArgError::Invalid(format!(
                "{name}_url origin is not in nile_reset.trusted_origins"
            ))
            .raise();
        }
    }
    urls
}

/// Validates the arguments and looks the user up. Every rule that can fail
/// raises before anything is written.
fn request(
    client: &SpiClient<'_>,
    email: Option<&str>,
    callback_url: Option<&str>,
    redirect_url: Option<&str>,
) -> Request {
    let email = required(email, "email");
    or_raise(check_email(email));
    // No directory (55000) is said before anything about the URLs: an
    // unconfigured database would otherwise report an untrusted origin.
    let directory = directory::load(client);
    let urls = trusted_urls(client, callback_url, redirect_url);
    request_for(client, &directory, &urls, email)
}

/// Looks up the live user a checked `email` belongs to (one statement) and
/// draws a token.
///
/// Timing: every request then runs the same write statement (`issue_sql`),
/// whose own resend check reads the token row: an unknown email and a known
/// one inside the resend interval both stop there, writing nothing, so
/// neither a row lock nor a commit record tells them apart. Only an email
/// that gets a token does more (the rendered email, and the writes); the
/// HTTP layer's latency floor covers that difference.
fn request_for(client: &SpiClient<'_>, directory: &Directory, urls: &Urls, email: &str) -> Request {
    let identifier = crate::email::normalize(email);
    let user = directory.find_by_email(client, &identifier);
    let secret = token::generate()
        .unwrap_or_else(|_| internal_error("the operating system random number generator failed"));
    let digest = token::digest(&secret);
    // The identifier is the token row's key: an issued row has exactly it.
    let link = urls.link.link(&secret, &identifier);
    Request {
        identifier,
        user,
        digest,
        link,
    }
}

impl Request {
    /// `issue_sql`'s five parameters.
    fn issue_args(&self, resend_interval_seconds: i32) -> [DatumWithOid<'_>; ISSUE_ARGS] {
        [
            self.identifier.as_str().into(),
            self.digest.as_str().into(),
            TOKEN_TTL_SECONDS.get().into(),
            resend_interval_seconds.into(),
            self.user.as_ref().map(|user| user.id.as_str()).into(),
        ]
    }

    /// The `password_reset` email, in the user's locale.
    fn email(&self, client: &SpiClient<'_>, user: &User) -> Email {
        let template = load_template(client, "password_reset", user.locale.as_deref());
        let username = crate::templates::username_for(user.name.as_deref(), &user.email);
        Email::render(
            &template,
            &user.email,
            &[
                ("username", username.as_str()),
                ("api_url", self.link.as_str()),
            ],
        )
    }

    /// Issues the token and queues its email in one statement, waking the
    /// sender unless `wake` is None; the row's expiry and outbox id, or None
    /// when nothing may happen (no such user, or a token inside the resend
    /// interval).
    fn issue_and_queue(
        &self,
        client: &mut SpiClient<'_>,
        resend_interval_seconds: i32,
        wake: Option<[DatumWithOid<'static>; 3]>,
    ) -> Option<(TimestampWithTimeZone, i64)> {
        let email = self.user.as_ref().map(|user| self.email(client, user));
        let mut args: Vec<DatumWithOid<'_>> =
            Vec::with_capacity(ISSUE_ARGS + EMAIL_ARGS + WAKE_ARGS);
        args.extend(self.issue_args(resend_interval_seconds));
        match &email {
            Some(email) => args.extend(email.args()),
            None => args.extend((0..EMAIL_ARGS).map(|_| DatumWithOid::from(None::<&str>))),
        }
        let statement = match wake {
            Some(wake) => {
                args.extend(wake);
                &ISSUE_QUEUE_AND_WAKE
            }
            None => &ISSUE_AND_QUEUE,
        };
        let row = first_row(execute_growing(client, statement, &args))?;
        Some((not_null(&row, "expires"), not_null(&row, "id")))
    }
}

/// Creates a reset token for `email` and queues the `password_reset` email.
/// `created` is false, and nothing was written, when the email belongs to no
/// live user (or to several), or a token was issued within `nile_reset.min_resend_interval`:
/// the two cases look the same on purpose.
///
/// `auth.generate_password_token(email text, callback_url text, redirect_url
/// text) RETURNS TABLE (created bool, expires timestamptz, outbox_id bigint)`,
/// its one row in one call (`one_row`).
///
/// # Safety
/// `fcinfo` is that function's call.
unsafe fn generate_password_token(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: the function's three arguments are text.
    let (email, callback_url, redirect_url) = unsafe { text_arguments(fcinfo) };
    crate::cache::begin_call();
    let resend_interval = MIN_RESEND_INTERVAL_SECONDS.get();
    let row = Spi::connect_mut(|client| {
        request(client, email, callback_url, redirect_url).issue_and_queue(
            client,
            resend_interval,
            wake_args(),
        )
    });
    // SAFETY: the function's third column is bigint.
    unsafe { answer_issued(fcinfo, row) }
}
one_row_function!(
    pg_finfo_generate_password_token_wrapper,
    generate_password_token_wrapper,
    generate_password_token
);
extension_sql!(
    r#"
CREATE FUNCTION "generate_password_token"(
	"email" TEXT,
	"callback_url" TEXT,
	"redirect_url" TEXT
) RETURNS TABLE (
	"created" bool,
	"expires" timestamp with time zone,
	"outbox_id" bigint
)
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'generate_password_token_wrapper';
"#,
    name = "generate_password_token",
    requires = ["schema"]
);

/// The row `generate_password_token` and `_link` answer: `created`, and
/// `expires` and the third column when a token was issued (NULL otherwise).
///
/// # Safety
/// `fcinfo` is a call of one of them; `T` is its third column's type.
unsafe fn answer_issued<T: IntoDatum>(
    fcinfo: pg_sys::FunctionCallInfo,
    issued: Option<(TimestampWithTimeZone, T)>,
) -> pg_sys::Datum {
    let (expires, third) = issued.unzip();
    // SAFETY: (bool, timestamptz, T) is the row both declare.
    unsafe {
        one_row::answer(
            fcinfo,
            [
                expires.is_some().into_datum(),
                expires.into_datum(),
                third.into_datum(),
            ],
        )
    }
}

/// The three text arguments of `generate_password_token` and `_link`.
///
/// # Safety
/// `fcinfo` is a call with three text arguments.
unsafe fn text_arguments<'a>(
    fcinfo: pg_sys::FunctionCallInfo,
) -> (Option<&'a str>, Option<&'a str>, Option<&'a str>) {
    // SAFETY: as the caller promises.
    unsafe {
        (
            pg_getarg::<&str>(fcinfo, 0),
            pg_getarg::<&str>(fcinfo, 1),
            pg_getarg::<&str>(fcinfo, 2),
        )
    }
}

/// `generate_password_token` for many emails in one statement, e.g. every
/// account of a breach: the same rules for each email, one row per input
/// element in input order (`created` false for an unknown email, one inside
/// the resend interval, or a repeat). A NULL, empty or malformed element
/// raises, as the single call does, and nothing is queued. The URLs, the
/// directory and each locale's template are read once, and the sender is
/// woken once, after the last email (the NOTIFY carries the last outbox id).
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn generate_password_tokens(
    emails: Option<Vec<Option<String>>>,
    callback_url: Option<&str>,
    redirect_url: Option<&str>,
) -> TableIterator<'static, (name!(email, String), name!(created, bool))> {
    let emails = required(emails, "emails");
    let checked: Vec<String> = emails
        .into_iter()
        .enumerate()
        .map(|(index, email)| {
            let email = required(email, &format!("emails[{}]", index + 1));
            if let Err(error) = check_email(&email) {
                error.at(&format!("emails[{}]", index + 1)).raise();
            }
            email
        })
        .collect();
    crate::cache::begin_call();
    let resend_interval = MIN_RESEND_INTERVAL_SECONDS.get();
    let rows =
        Spi::connect_mut(|client| {
            let directory = directory::load(client);
            let urls = trusted_urls(client, callback_url, redirect_url);
            let mut last_id = None;
            let rows: Vec<(String, bool)> =
                checked
                    .into_iter()
                    .map(|email| {
                        let issued = request_for(client, &directory, &urls, &email)
                            .issue_and_queue(client, resend_interval, None);
                        let Some((_, outbox_id)) = issued else {
                            return (email, false);
                        };
                        last_id = Some(outbox_id);
                        (email, true)
                    })
                    .collect();
            if let Some(id) = last_id {
                wake(client, id);
            }
            rows
        });
    TableIterator::new(rows)
}

/// Like `generate_password_token`, but returns the link instead of emailing
/// it (Nile's `json=true`). It hands out a credential for any account, so it
/// is for trusted callers only: grant it separately.
///
/// `auth.generate_password_link(email text, callback_url text, redirect_url
/// text) RETURNS TABLE (created bool, expires timestamptz, link text)`, its
/// one row in one call (`one_row`).
///
/// # Safety
/// `fcinfo` is that function's call.
unsafe fn generate_password_link(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: the function's three arguments are text.
    let (email, callback_url, redirect_url) = unsafe { text_arguments(fcinfo) };
    // No resend interval: the caller sends no email, so there is nothing to
    // flood, and Nile's SDK asks for a fresh link on every resetPassword().
    crate::cache::begin_call();
    let issued = Spi::connect_mut(|client| {
        let request = request(client, email, callback_url, redirect_url);
        let row = first_row(execute_growing(client, &ISSUE, &request.issue_args(0)))?;
        Some((
            not_null::<TimestampWithTimeZone>(&row, "expires"),
            request.link,
        ))
    });
    // SAFETY: the function's third column is text.
    unsafe { answer_issued(fcinfo, issued) }
}
one_row_function!(
    pg_finfo_generate_password_link_wrapper,
    generate_password_link_wrapper,
    generate_password_link
);
extension_sql!(
    r#"
CREATE FUNCTION "generate_password_link"(
	"email" TEXT,
	"callback_url" TEXT,
	"redirect_url" TEXT
) RETURNS TABLE (
	"created" bool,
	"expires" timestamp with time zone,
	"link" TEXT
)
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'generate_password_link_wrapper';
"#,
    name = "generate_password_link",
    requires = ["schema"]
);
