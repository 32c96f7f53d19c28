//! The handlers of the pages. Each one answers with a page, whatever happens: a refusal is a
//! page that says what to do next, in the visitor's language, never a bare status.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::header::{ACCEPT_LANGUAGE, CONTENT_TYPE, LOCATION, RETRY_AFTER, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use url::form_urlencoded;

use super::address::{posted_from_our_pages, PagesAddress};
use super::catalogue::{fill, Language, Messages};
use super::policy;
use super::reset_state::ResetState;
use super::templates::{html, DonePage, ForgotPage, Frame, ProblemPage, ResetPage, SentPage};
use super::Pages;
use crate::serve::cookies;
use crate::serve::databases::Database;
use crate::serve::error::ApiError;
use crate::serve::extract::{query_param, ServedDatabase, WithinRateLimit};
use crate::serve::password_policy;
use crate::serve::routes::sleep_until_precisely;
use crate::serve::sql_api::{self, LinkCheck, TokenStatus};
use crate::serve::state::AppState;

const FORGOT_PAGE: &str = "forgot-password";
const RESET_PAGE: &str = "reset-password";
const DONE_PAGE: &str = "done";

/// A request for a page of a served database, within the client's rate limit, and the
/// language to answer it in. Refused with a page: 404 for a database not served, 429 beyond the
/// limit (which every page but the stylesheet counts against, as the API's routes do).
pub struct Visit {
    language: Arc<Language>,
    db: Database,
}

impl FromRequestParts<Arc<AppState>> for Visit {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Visit, Response> {
        let Extension(pages) = Extension::<Arc<Pages>>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let accepted = parts
            .headers
            .get_all(ACCEPT_LANGUAGE)
            .iter()
            .filter_map(|value| value.to_str().ok());
        let language = pages.catalogue.negotiate(accepted).clone();
        let db = match ServedDatabase::from_request_parts(parts, state).await {
            Ok(ServedDatabase(db)) => db,
            Err(error) => return Err(failure_page(&language, error)),
        };
        if let Err(error) = WithinRateLimit::from_request_parts(parts, state).await {
            return Err(failure_page(&language, error));
        }
        Ok(Visit { language, db })
    }
}

impl Visit {
    fn t(&self) -> &Messages {
        &self.language.messages
    }

    fn frame(&self, heading: impl Fn(&Messages) -> &String) -> Frame<'_> {
        Frame::new(&self.language, heading)
    }

    fn html(&self, status: StatusCode, page: &impl askama::Template) -> Response {
        html(status, &self.language.tag, page)
    }

    /// A page with a heading, a sentence, and optionally a link on.
    fn problem(
        &self,
        status: StatusCode,
        heading: impl Fn(&Messages) -> &String,
        body: impl Fn(&Messages) -> &String,
        link: Option<(String, &str)>,
    ) -> Response {
        let page = ProblemPage {
            frame: self.frame(heading),
            body: body(self.t()),
            link,
        };
        self.html(status, &page)
    }

    /// 400: the link is unknown, used, expired or was altered. `callback_url`, when the
    /// database trusts it, goes along to the forgot page.
    fn invalid_link(&self, callback_url: Option<&str>) -> Response {
        self.problem(
            StatusCode::BAD_REQUEST,
            |t| &t.invalid_title,
            |t| &t.invalid_body,
            Some((forgot_href(callback_url), &self.t().invalid_forgot_link)),
        )
    }

    /// 403: a form post from another site, or without the CSRF token of its page.
    fn refused(&self, form_page: &str) -> Response {
        self.problem(
            StatusCode::FORBIDDEN,
            |t| &t.refused_title,
            |t| &t.refused_body,
            Some((form_page.to_owned(), &self.t().refused_link)),
        )
    }

    /// 400: a callback URL the database does not trust (never shown).
    fn callback_refused(&self) -> Response {
        self.problem(
            StatusCode::BAD_REQUEST,
            |t| &t.callback_refused_title,
            |t| &t.callback_refused_body,
            None,
        )
    }

    /// 400 (413 for too large a body): a form that could not be read.
    fn unreadable_form(&self, rejection: &FormRejection) -> Response {
        let status = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::BAD_REQUEST
        };
        self.problem(
            status,
            |t| &t.bad_request_title,
            |t| &t.bad_request_body,
            None,
        )
    }

    fn failure(&self, error: ApiError) -> Response {
        failure_page(&self.language, error)
    }
}

/// `error` as a page, with the status (and Retry-After) the API answers it with. Its text is
/// the page's own: the API's message may name what the visitor needs no telling about.
fn failure_page(language: &Language, error: ApiError) -> Response {
    type Text = fn(&Messages) -> &String;
    let (heading, body): (Text, Text) = match &error {
        ApiError::UnknownDatabase => (|t| &t.not_found_title, |t| &t.not_found_body),
        ApiError::TooManyRequests { .. } => (|t| &t.too_many_title, |t| &t.too_many_body),
        ApiError::MissingCsrf => (|t| &t.refused_title, |t| &t.refused_body),
        ApiError::BadRequest(_) | ApiError::PayloadTooLarge => {
            (|t| &t.bad_request_title, |t| &t.bad_request_body)
        }
        ApiError::DatabaseFailure
        | ApiError::Unauthorized
        | ApiError::TimedOut
        | ApiError::Internal => (|t| &t.failed_title, |t| &t.failed_body),
    };
    let api_answer = error.into_response();
    let page = ProblemPage {
        frame: Frame::new(language, heading),
        body: body(&language.messages),
        link: None,
    };
    let mut response = html(api_answer.status(), &language.tag, &page);
    if let Some(retry_after) = api_answer.headers().get(RETRY_AFTER) {
        response
            .headers_mut()
            .insert(RETRY_AFTER, retry_after.clone());
    }
    response
}

/// The forgot page's address relative to any page, with the callback URL when there is one.
fn forgot_href(callback_url: Option<&str>) -> String {
    match callback_url {
        Some(url) => format!("{FORGOT_PAGE}?{}", encoded("callbackUrl", url)),
        None => FORGOT_PAGE.to_owned(),
    }
}

fn encoded(name: &str, value: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair(name, value)
        .finish()
}

/// Whether the database trusts `url` as a place to send the visitor (`auth.is_trusted_url`).
/// A URL that parsers read differently is refused before the database is asked.
async fn trusted(db: &Database, url: &str) -> Result<bool, ApiError> {
    if nile_reset_urls::is_ambiguous(url) {
        return Ok(false);
    }
    let row = db
        .query_one("SELECT auth.is_trusted_url($1) AS trusted", &[&url])
        .await?;
    Ok(row.try_get::<_, Option<bool>>("trusted").ok().flatten() == Some(true))
}

/// The CSRF token a form carries: the one of the visitor's CSRF cookie when it is valid (so
/// that two open forms both work), otherwise a new one with its cookie.
struct FormCsrf {
    token: String,
    set_cookie: Option<HeaderValue>,
}

impl FormCsrf {
    fn for_visit(
        state: &AppState,
        visit: &Visit,
        headers: &HeaderMap,
    ) -> Result<FormCsrf, ApiError> {
        let secure = cookies::secure(headers, state.public_url.as_ref());
        if let Some(token) = cookies::verify_csrf(headers, &state.secret, visit.db.name(), secure) {
            return Ok(FormCsrf {
                token,
                set_cookie: None,
            });
        }
        let issued = cookies::issue_csrf(&state.secret, visit.db.name(), secure)?;
        Ok(FormCsrf {
            token: issued.token,
            set_cookie: Some(issued.set_cookie),
        })
    }

    fn attach(self, mut response: Response) -> Response {
        if let Some(cookie) = self.set_cookie {
            response.headers_mut().append(SET_COOKIE, cookie);
        }
        response
    }
}

/// Whether a form post may be acted on: sent from our pages, with the token of a valid CSRF
/// cookie of this database.
fn form_accepted(
    state: &AppState,
    visit: &Visit,
    uri: &Uri,
    headers: &HeaderMap,
    submitted: &str,
) -> bool {
    if !posted_from_our_pages(headers, uri, state.public_url.as_ref()) {
        return false;
    }
    let secure = cookies::secure(headers, state.public_url.as_ref());
    cookies::verify_csrf(headers, &state.secret, visit.db.name(), secure).is_some_and(|token| {
        !submitted.is_empty() && bool::from(submitted.as_bytes().ct_eq(token.as_bytes()))
    })
}

/// 303 to `location`, setting `cookies`.
fn see_other(location: &str, cookies: impl IntoIterator<Item = HeaderValue>) -> Response {
    let Ok(location) = HeaderValue::from_str(location) else {
        // Our own addresses are built from checked parts; this cannot be reached.
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut response = (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response();
    for cookie in cookies {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

/// Runs `answer` and returns its result no earlier than the API's latency floor after the
/// start: the same floor, ending on the same precise deadline, as the API's routes.
async fn at_the_floor<F: std::future::Future<Output = Response>>(
    state: &AppState,
    answer: F,
) -> Response {
    let floor = Instant::now() + state.min_response_time;
    let response = answer.await;
    if !state.min_response_time.is_zero() {
        sleep_until_precisely(floor).await;
    }
    response
}

/// GET forgot-password`[?callbackUrl=URL]`: the email field. A callback URL the database does
/// not trust is refused here, before it can be rendered into the form.
pub async fn forgot_form(
    State(state): State<Arc<AppState>>,
    visit: Visit,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let callback_url = query_param(uri.query(), "callbackUrl").filter(|url| !url.is_empty());
    if let Some(url) = &callback_url {
        match trusted(&visit.db, url).await {
            Ok(true) => {}
            Ok(false) => return visit.callback_refused(),
            Err(error) => return visit.failure(error),
        }
    }
    let csrf = match FormCsrf::for_visit(&state, &visit, &headers) {
        Ok(csrf) => csrf,
        Err(error) => return visit.failure(error),
    };
    let page = ForgotPage {
        frame: visit.frame(|t| &t.forgot_title),
        email: "",
        error: None,
        csrf_token: &csrf.token,
        callback_url: callback_url.as_deref(),
    };
    let response = visit.html(StatusCode::OK, &page);
    csrf.attach(response)
}

#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
    #[serde(default, rename = "csrfToken")]
    csrf_token: String,
    #[serde(default, rename = "callbackUrl")]
    callback_url: String,
}

/// POST forgot-password: queues the reset email through the API's SQL call, with the link
/// pointing at our reset-password page. The same "check your email" page whether or not the
/// address has an account, no earlier than the API's latency floor.
pub async fn request_link(
    State(state): State<Arc<AppState>>,
    visit: Visit,
    uri: Uri,
    headers: HeaderMap,
    form: Result<Form<ForgotForm>, FormRejection>,
) -> Response {
    at_the_floor(&state, answer_forgot(&state, &visit, &uri, &headers, form)).await
}

async fn answer_forgot(
    state: &AppState,
    visit: &Visit,
    uri: &Uri,
    headers: &HeaderMap,
    form: Result<Form<ForgotForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return visit.unreadable_form(&rejection),
    };
    if !form_accepted(state, visit, uri, headers, &form.csrf_token) {
        return visit.refused(FORGOT_PAGE);
    }
    let given_callback = Some(form.callback_url.as_str()).filter(|url| !url.is_empty());
    let form_again = |status: StatusCode, error: &str| {
        let page = ForgotPage {
            frame: visit.frame(|t| &t.forgot_title),
            email: &form.email,
            error: Some(error),
            csrf_token: &form.csrf_token,
            callback_url: given_callback,
        };
        visit.html(status, &page)
    };
    let email = form.email.trim();
    if email.is_empty() {
        return form_again(StatusCode::BAD_REQUEST, &visit.t().email_required);
    }
    let Some(address) = PagesAddress::of(state.public_url.as_ref(), headers, uri, visit.db.name())
    else {
        return visit.failure(ApiError::bad_request("Invalid Host"));
    };
    let redirect_url = address.page(RESET_PAGE);
    let callback_url = match given_callback {
        Some(url) => url.to_owned(),
        None => address.page(DONE_PAGE),
    };
    // Both URLs are checked first, so that a refusal of generate_password_token below can only
    // be about the email.
    match trusted(&visit.db, &callback_url).await {
        Ok(true) => {}
        Ok(false) if given_callback.is_some() => return visit.callback_refused(),
        Ok(false) => return pages_origin_untrusted(visit, &callback_url),
        Err(error) => return visit.failure(error),
    }
    match trusted(&visit.db, &redirect_url).await {
        Ok(true) => {}
        Ok(false) => return pages_origin_untrusted(visit, &redirect_url),
        Err(error) => return visit.failure(error),
    }
    let queued = sql_api::generate_password_token(
        &visit.db,
        email,
        Some(&callback_url),
        Some(&redirect_url),
    )
    .await;
    match queued {
        // Queued or not (no such account, asked again too soon): the same page.
        Ok(_) => {
            let page = SentPage {
                frame: visit.frame(|t| &t.sent_title),
                body: fill(&visit.t().sent_body, "email", email),
                retry_href: forgot_href(given_callback),
            };
            visit.html(StatusCode::OK, &page)
        }
        Err(ApiError::BadRequest(_)) => {
            form_again(StatusCode::BAD_REQUEST, &visit.t().email_invalid)
        }
        Err(error) => visit.failure(error),
    }
}

/// The database does not trust the origin the pages are served at: a setup mistake the
/// operator must hear about, not the visitor.
fn pages_origin_untrusted(visit: &Visit, url: &str) -> Response {
    let origin = url::Url::parse(url)
        .map(|url| url.origin().ascii_serialization())
        .unwrap_or_default();
    tracing::warn!(
        database = visit.db.name(),
        origin,
        "the pages' origin is not trusted by the database: add it with auth.add_trusted_origin, \
         or set --public-url to a trusted one"
    );
    visit.failure(ApiError::Internal)
}

/// GET reset-password: with the emailed link's query, checks the link; without one, the
/// "choose a new password" form of the reset the cookies carry.
pub async fn open_link_or_form(
    State(state): State<Arc<AppState>>,
    visit: Visit,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if uri.query().is_some_and(|query| !query.is_empty()) {
        at_the_floor(&state, open_link(&state, &visit, &uri, &headers)).await
    } else {
        password_form(&state, &visit, &headers).await
    }
}

/// The emailed link, checked exactly as the API's GET checks it (trusted callback URL, then
/// the token). A valid one leaves its token in the reset cookie and sends the browser on to
/// the same page without the query: the token leaves the address bar and the history.
async fn open_link(state: &AppState, visit: &Visit, uri: &Uri, headers: &HeaderMap) -> Response {
    let query = uri.query();
    let required = |name: &str| query_param(query, name).filter(|value| !value.is_empty());
    let (Some(token), Some(identifier), Some(callback_url)) = (
        required("token"),
        required("identifier"),
        required("callbackUrl").or_else(|| required("callbackURL")),
    ) else {
        return visit.invalid_link(None);
    };
    if nile_reset_urls::is_ambiguous(&callback_url) {
        return visit.invalid_link(None);
    }
    let checked =
        sql_api::check_and_verify_link(&visit.db, &callback_url, &identifier, &token).await;
    let (binding, status) = match checked {
        Ok(LinkCheck::Trusted { identifier, status }) => (identifier, status),
        Ok(LinkCheck::Untrusted) | Err(ApiError::BadRequest(_)) => return visit.invalid_link(None),
        Err(error) => return visit.failure(error),
    };
    if status != TokenStatus::Valid {
        return visit.invalid_link(Some(&callback_url));
    }
    let Some(address) = PagesAddress::of(state.public_url.as_ref(), headers, uri, visit.db.name())
    else {
        return visit.failure(ApiError::bad_request("Invalid Host"));
    };
    let reset = ResetState {
        token,
        identifier: binding,
        callback_url,
    };
    let secure = cookies::secure(headers, state.public_url.as_ref());
    see_other(
        &address.page(RESET_PAGE),
        reset.set_cookies(&state.secret, visit.db.name(), secure),
    )
}

/// The form, while the reset the cookies carry is still good.
async fn password_form(state: &AppState, visit: &Visit, headers: &HeaderMap) -> Response {
    let secure = cookies::secure(headers, state.public_url.as_ref());
    let Some(reset) = ResetState::read(headers, &state.secret, visit.db.name(), secure) else {
        return visit.invalid_link(None);
    };
    match sql_api::verify_password_token(&visit.db, &reset.identifier, &reset.token).await {
        Ok(TokenStatus::Valid) => {}
        Ok(_) | Err(ApiError::BadRequest(_)) => {
            return with_cookies(
                visit.invalid_link(Some(&reset.callback_url)),
                ResetState::clear_cookies(secure),
            )
        }
        Err(error) => return visit.failure(error),
    }
    reset_form(state, visit, headers, StatusCode::OK, None).await
}

/// The "choose a new password" form, with the policy's refusal when there is one.
async fn reset_form(
    state: &AppState,
    visit: &Visit,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let min_length = match policy::min_password_length(&visit.db).await {
        Ok(min_length) => min_length,
        Err(error) => return visit.failure(error),
    };
    let csrf = match FormCsrf::for_visit(state, visit, headers) {
        Ok(csrf) => csrf,
        Err(error) => return visit.failure(error),
    };
    let page = ResetPage {
        frame: visit.frame(|t| &t.reset_title),
        csrf_token: &csrf.token,
        error,
        requirements: policy::requirements(visit.t(), min_length),
    };
    let response = visit.html(status, &page);
    csrf.attach(response)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default, rename = "csrfToken")]
    csrf_token: String,
}

/// POST reset-password: sets the new password through the API's SQL call. A password the
/// policy refuses brings the form back (400) with the refusal next to the field; success ends
/// the reset (both cookies cleared) and sends the browser to the done page.
pub async fn set_password(
    State(state): State<Arc<AppState>>,
    visit: Visit,
    uri: Uri,
    headers: HeaderMap,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return visit.unreadable_form(&rejection),
    };
    if !form_accepted(&state, &visit, &uri, &headers, &form.csrf_token) {
        return visit.refused(RESET_PAGE);
    }
    let secure = cookies::secure(&headers, state.public_url.as_ref());
    let Some(reset) = ResetState::read(&headers, &state.secret, visit.db.name(), secure) else {
        return visit.invalid_link(None);
    };
    match password_policy::check(&visit.db, &form.password).await {
        Ok(()) => {}
        Err(ApiError::BadRequest(message)) => {
            let refusal = policy::refusal(visit.t(), &message);
            return reset_form(
                &state,
                &visit,
                &headers,
                StatusCode::BAD_REQUEST,
                Some(refusal),
            )
            .await;
        }
        Err(error) => return visit.failure(error),
    }
    let changed =
        sql_api::reset_password(&visit.db, &reset.identifier, &reset.token, &form.password).await;
    match changed {
        Ok(()) => {}
        // The token was used meanwhile, or expired.
        Err(ApiError::BadRequest(_)) => {
            return with_cookies(
                visit.invalid_link(Some(&reset.callback_url)),
                ResetState::clear_cookies(secure),
            )
        }
        Err(error) => return visit.failure(error),
    }
    let Some(address) =
        PagesAddress::of(state.public_url.as_ref(), &headers, &uri, visit.db.name())
    else {
        return visit.failure(ApiError::bad_request("Invalid Host"));
    };
    let mut done = address.page(DONE_PAGE);
    if !address.is_page(&reset.callback_url, DONE_PAGE) {
        done = format!("{done}?{}", encoded("callbackUrl", &reset.callback_url));
    }
    see_other(&done, ResetState::clear_cookies(secure))
}

fn with_cookies(
    mut response: Response,
    cookies: impl IntoIterator<Item = HeaderValue>,
) -> Response {
    for cookie in cookies {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

/// GET done`[?callbackUrl=URL]`: the password is changed; a link on to the callback URL when
/// the database trusts it (checked again here: the query is anyone's to write) and it is not
/// this page itself.
pub async fn done(
    State(state): State<Arc<AppState>>,
    visit: Visit,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let callback_url = query_param(uri.query(), "callbackUrl").filter(|url| !url.is_empty());
    let address = PagesAddress::of(state.public_url.as_ref(), &headers, &uri, visit.db.name());
    let mut continue_url = None;
    if let Some(url) = callback_url {
        let itself = address
            .as_ref()
            .is_some_and(|address| address.is_page(&url, DONE_PAGE));
        // A database that cannot answer now costs the link, not the news.
        if !itself && trusted(&visit.db, &url).await.unwrap_or(false) {
            continue_url = Some(url);
        }
    }
    let page = DonePage {
        frame: visit.frame(|t| &t.done_title),
        continue_url: continue_url.as_deref(),
    };
    visit.html(StatusCode::OK, &page)
}

/// GET style.css: the pages' only stylesheet (the CSP allows no other style).
pub async fn stylesheet(Extension(pages): Extension<Arc<Pages>>) -> Response {
    let css: Bytes = pages.stylesheet.clone();
    ([(CONTENT_TYPE, "text/css; charset=utf-8")], css).into_response()
}
