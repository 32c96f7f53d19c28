//! `serve --pages`: the reference pages under `/v2/databases/{database}/auth/pages/`, driven
//! the way a browser without JavaScript drives them (a cookie jar, form posts, redirects read
//! one at a time), with the link taken from the queued email.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, LOCATION, RETRY_AFTER};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use url::form_urlencoded;

use crate::support::fixture::{set_cookie, APP_ORIGIN, NEW_PASSWORD};
use crate::support::tables::{CREDENTIALS, USERS};
use crate::support::Fixture;

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// A database served with `--pages` (and `extra`), whose trusted origins include the shim's
/// own, which the pages' links point to.
async fn pages_fixture(name: &str, extra: &[&str]) -> Fixture {
    let mut args = vec!["--pages"];
    args.extend_from_slice(extra);
    let f = Fixture::with_args(name, &args).await;
    f.db.execute("SELECT auth.add_trusted_origin($1)", &[&f.shim.base_url])
        .await
        .unwrap();
    f
}

fn page(f: &Fixture, name: &str) -> String {
    f.api(&format!("/auth/pages/{name}"))
}

/// `url` with `pairs` as its query, form-encoded.
fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{url}?{query}")
}

/// A browser: it keeps cookies, follows no redirect by itself, and sends what a browser sends
/// with a form post from our own page.
struct Browser {
    http: Client,
    origin: String,
    language: &'static str,
}

impl Browser {
    fn new(f: &Fixture) -> Browser {
        Browser::speaking(f, "en-US,en;q=0.9")
    }

    fn speaking(f: &Fixture, language: &'static str) -> Browser {
        Browser {
            http: Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            origin: f.shim.base_url.clone(),
            language,
        }
    }

    async fn get(&self, url: &str) -> Page {
        Page::of(
            self.http
                .get(url)
                .header("accept-language", self.language)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// A form post as our own page sends it.
    fn post(&self, url: &str, form: &[(&str, &str)]) -> RequestBuilder {
        self.bare_post(url, form)
            .header("origin", &self.origin)
            .header("sec-fetch-site", "same-origin")
    }

    /// A form post with the cookies, and no word on where it comes from.
    fn bare_post(&self, url: &str, form: &[(&str, &str)]) -> RequestBuilder {
        self.http
            .post(url)
            .header("accept-language", self.language)
            .form(form)
    }
}

/// An answer, read whole.
struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    async fn of(response: Response) -> Page {
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap();
        Page {
            status,
            headers,
            body,
        }
    }

    async fn sent(request: RequestBuilder) -> Page {
        Page::of(request.send().await.unwrap()).await
    }

    fn location(&self) -> &str {
        self.headers[LOCATION].to_str().unwrap()
    }

    /// The value of the hidden field `name`.
    fn hidden(&self, name: &str) -> Option<String> {
        let marker = format!(r#"<input type="hidden" name="{name}" value=""#);
        let (_, rest) = self.body.split_once(&marker)?;
        Some(rest.split('"').next().unwrap().to_owned())
    }

    /// An HTML page with the pages' security headers, in `lang`, with status `status`.
    #[track_caller]
    fn assert_html(&self, status: StatusCode, lang: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.headers["content-type"], "text/html; charset=utf-8");
        assert_security_headers(&self.headers);
        assert!(
            self.body
                .starts_with(&format!("<!DOCTYPE html>\n<html lang=\"{lang}\">")),
            "{}",
            self.body
        );
        assert!(self.body.contains("<title>"), "{}", self.body);
        assert!(
            !self.body.contains("<script") && !self.body.contains("style="),
            "{}",
            self.body
        );
    }
}

#[track_caller]
fn assert_security_headers(headers: &HeaderMap) {
    assert_eq!(headers["content-security-policy"], CSP);
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["x-content-type-options"], "nosniff");
}

/// Whether Alice's credential now holds `password`.
async fn alice_has_password(f: &Fixture, password: &str) -> bool {
    f.db.query_one(
        &format!(
            "SELECT EXISTS (SELECT FROM {CREDENTIALS}
             WHERE user_id = (SELECT id FROM {USERS} WHERE email = 'Alice@Example.com')
               AND (payload->>'hash') = crypt($1::text, payload->>'hash'))"
        ),
        &[&password],
    )
    .await
    .unwrap()
    .get(0)
}

#[tokio::test]
async fn pages_are_off_by_default() {
    let f = Fixture::new("pages_off").await;
    for name in ["forgot-password", "reset-password", "done", "style.css"] {
        let response = f.http.get(page(&f, name)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{name}");
        assert!(response.headers().get("content-security-policy").is_none());
    }
}

#[tokio::test]
async fn a_whole_reset_through_the_pages() {
    let f = pages_fixture("pages_flow", &[]).await;
    let browser = Browser::new(&f);
    let callback = format!("{APP_ORIGIN}/signed-in");

    // The forgot page: a labelled email field, the CSRF token and its cookie, the callback.
    let forgot = browser
        .get(&with_query(
            &page(&f, "forgot-password"),
            &[("callbackUrl", &callback)],
        ))
        .await;
    forgot.assert_html(StatusCode::OK, "en");
    assert!(set_cookie(&forgot.headers, "nile.csrf-token").is_some());
    for expected in [
        r#"<form method="post" action="forgot-password">"#,
        r#"<label for="email">Email address</label>"#,
        r#"<input type="email" name="email" id="email" required autocomplete="email""#,
        r#"<button type="submit">"#,
        r#"<link rel="stylesheet" href="style.css">"#,
    ] {
        assert!(
            forgot.body.contains(expected),
            "{expected}\n{}",
            forgot.body
        );
    }
    let csrf_token = forgot.hidden("csrfToken").expect("csrfToken");
    assert_eq!(csrf_token.len(), 64);
    assert_eq!(
        forgot.hidden("callbackUrl").as_deref(),
        Some(callback.as_str())
    );

    // The stylesheet the page links to.
    let css = f.http.get(page(&f, "style.css")).send().await.unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert_security_headers(css.headers());

    // Asking: "check your email", and the email is queued with a link to our reset page.
    let sent = Page::sent(browser.post(
        &page(&f, "forgot-password"),
        &[
            ("email", "alice@example.com"),
            ("csrfToken", &csrf_token),
            ("callbackUrl", &callback),
        ],
    ))
    .await;
    sent.assert_html(StatusCode::OK, "en");
    assert!(
        sent.body.contains("<h1>Check your email</h1>"),
        "{}",
        sent.body
    );
    assert!(sent.body.contains("alice@example.com"), "{}", sent.body);
    assert_eq!(f.outbox_count().await, 1);
    let link = f.emailed_link().await;
    assert_eq!(
        link.as_str().split('?').next().unwrap(),
        page(&f, "reset-password")
    );
    let link_callback = link
        .query_pairs()
        .find(|(key, _)| key == "callbackUrl")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(link_callback, callback);
    let token = link
        .query_pairs()
        .find(|(key, _)| key == "token")
        .unwrap()
        .1
        .into_owned();

    // Someone without an account gets the same page, and no email is queued.
    let unknown = Page::sent(browser.post(
        &page(&f, "forgot-password"),
        &[
            ("email", "nobody@example.com"),
            ("csrfToken", &csrf_token),
            ("callbackUrl", &callback),
        ],
    ))
    .await;
    unknown.assert_html(StatusCode::OK, "en");
    assert_eq!(
        unknown
            .body
            .replace("nobody@example.com", "alice@example.com"),
        sent.body
    );
    assert_eq!(f.outbox_count().await, 1);

    // The link: checked, then the token moves into cookies and out of the address bar.
    let opened = browser.get(link.as_str()).await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER);
    assert_security_headers(&opened.headers);
    assert_eq!(opened.location(), page(&f, "reset-password"));
    assert!(set_cookie(&opened.headers, "nile.reset").is_some());
    assert!(set_cookie(&opened.headers, "nile.reset-page").is_some());

    // The form: a labelled password field, the policy's requirement, no error yet.
    let form = browser.get(&page(&f, "reset-password")).await;
    form.assert_html(StatusCode::OK, "en");
    for expected in [
        r#"<form method="post" action="reset-password">"#,
        r#"<label for="password">New password</label>"#,
        r#"<input type="password" name="password" id="password" required autocomplete="new-password" aria-describedby="password-error password-requirements">"#,
        r#"<p id="password-error" class="error"></p>"#,
        r#"<p id="password-requirements" class="hint">Use at least 8 characters.</p>"#,
    ] {
        assert!(form.body.contains(expected), "{expected}\n{}", form.body);
    }
    let csrf_token = form.hidden("csrfToken").expect("csrfToken");
    assert!(!form.body.contains(&token), "the page shows the token");

    // A password the policy refuses: the form again, the policy's message next to the field.
    let refused = Page::sent(browser.post(
        &page(&f, "reset-password"),
        &[("password", "sh0rt!"), ("csrfToken", &csrf_token)],
    ))
    .await;
    refused.assert_html(StatusCode::BAD_REQUEST, "en");
    assert!(
        refused.body.contains(
            r#"<p id="password-error" class="error">This password is too short: use at least 8 characters.</p>"#
        ),
        "{}",
        refused.body
    );
    assert!(refused.body.contains(r#"aria-invalid="true""#));
    assert!(!alice_has_password(&f, "sh0rt!").await);

    // A good one: changed, the reset's cookies cleared, on to the done page.
    let changed = Page::sent(browser.post(
        &page(&f, "reset-password"),
        &[("password", NEW_PASSWORD), ("csrfToken", &csrf_token)],
    ))
    .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
    assert_eq!(
        changed.location(),
        with_query(&page(&f, "done"), &[("callbackUrl", &callback)])
    );
    assert!(set_cookie(&changed.headers, "nile.reset")
        .unwrap()
        .contains("Max-Age=0"));
    assert!(set_cookie(&changed.headers, "nile.reset-page")
        .unwrap()
        .contains("Max-Age=0"));
    assert!(alice_has_password(&f, NEW_PASSWORD).await);

    let done = browser.get(changed.location()).await;
    done.assert_html(StatusCode::OK, "en");
    assert!(
        done.body
            .contains("<h1>Your password has been changed</h1>"),
        "{}",
        done.body
    );
    assert!(
        done.body.contains(&format!(
            r#"<a id="continue" class="button" href="{callback}">"#
        )),
        "{}",
        done.body
    );

    // The link is spent: opened again, it is invalid, and so is the form.
    let again = browser.get(link.as_str()).await;
    again.assert_html(StatusCode::BAD_REQUEST, "en");
    assert!(
        again
            .body
            .contains("<h1>This link is invalid or has expired</h1>"),
        "{}",
        again.body
    );
    let forgot_again = with_query("forgot-password", &[("callbackUrl", &callback)]);
    assert!(
        again.body.contains(&format!(
            r#"<a id="retry" href="{}">"#,
            forgot_again.replace('&', "&#38;")
        )),
        "{}",
        again.body
    );
    let form_again = browser.get(&page(&f, "reset-password")).await;
    form_again.assert_html(StatusCode::BAD_REQUEST, "en");

    // Nothing secret reached the log.
    let log = f.shim.log();
    assert!(log.contains(r#"route="/v2/databases/{database}/auth/pages/reset-password""#));
    for secret in [
        token.as_str(),
        NEW_PASSWORD,
        "sh0rt!",
        "?token=",
        csrf_token.as_str(),
    ] {
        assert!(!log.contains(secret), "the log contains {secret:?}");
    }
}

#[tokio::test]
async fn pages_speak_the_visitors_language() {
    let f = pages_fixture("pages_german", &[]).await;
    let browser = Browser::speaking(&f, "fr-CH, fr;q=0.9, de-DE;q=0.8, en;q=0.5");
    let forgot = browser.get(&page(&f, "forgot-password")).await;
    forgot.assert_html(StatusCode::OK, "de");
    assert_eq!(forgot.headers["content-language"], "de");
    assert!(
        forgot.body.contains("<h1>Passwort vergessen?</h1>"),
        "{}",
        forgot.body
    );
    assert!(forgot
        .body
        .contains(r#"<label for="email">E-Mail-Adresse</label>"#));
    let csrf_token = forgot.hidden("csrfToken").unwrap();

    let sent = Page::sent(browser.post(
        &page(&f, "forgot-password"),
        &[("email", "alice@example.com"), ("csrfToken", &csrf_token)],
    ))
    .await;
    sent.assert_html(StatusCode::OK, "de");
    assert!(
        sent.body.contains("<h1>Sehen Sie in Ihre E-Mails</h1>"),
        "{}",
        sent.body
    );

    // Without a callback URL the link's callback is the done page, which then links nowhere.
    let link = f.emailed_link().await;
    let callback = link
        .query_pairs()
        .find(|(key, _)| key == "callbackUrl")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(callback, page(&f, "done"));
    assert_eq!(
        browser.get(link.as_str()).await.status,
        StatusCode::SEE_OTHER
    );
    let form = browser.get(&page(&f, "reset-password")).await;
    form.assert_html(StatusCode::OK, "de");
    let csrf_token = form.hidden("csrfToken").unwrap();
    let refused = Page::sent(browser.post(
        &page(&f, "reset-password"),
        &[("password", "kurz"), ("csrfToken", &csrf_token)],
    ))
    .await;
    refused.assert_html(StatusCode::BAD_REQUEST, "de");
    assert!(
        refused
            .body
            .contains("Dieses Passwort ist zu kurz: Verwenden Sie mindestens 8 Zeichen."),
        "{}",
        refused.body
    );
    let changed = Page::sent(browser.post(
        &page(&f, "reset-password"),
        &[("password", NEW_PASSWORD), ("csrfToken", &csrf_token)],
    ))
    .await;
    assert_eq!(changed.location(), page(&f, "done"));
    let done = browser.get(changed.location()).await;
    done.assert_html(StatusCode::OK, "de");
    assert!(done.body.contains("<h1>Ihr Passwort wurde geändert</h1>"));
    assert!(!done.body.contains(r#"id="continue""#), "{}", done.body);

    // No language of ours asked for: English.
    let english = Browser::speaking(&f, "ja, fr;q=0.5");
    english
        .get(&page(&f, "forgot-password"))
        .await
        .assert_html(StatusCode::OK, "en");
}

#[tokio::test]
async fn form_posts_from_elsewhere_are_refused() {
    let f = pages_fixture("pages_csrf", &[]).await;
    let browser = Browser::new(&f);
    let forgot_url = page(&f, "forgot-password");
    let csrf_token = browser.get(&forgot_url).await.hidden("csrfToken").unwrap();
    let form = [
        ("email", "alice@example.com"),
        ("csrfToken", csrf_token.as_str()),
    ];

    let refusals = [
        // Another site's page posting our form (the browser still sends our cookies).
        browser
            .bare_post(&forgot_url, &form)
            .header("origin", "http://evil.example"),
        browser
            .bare_post(&forgot_url, &form)
            .header("sec-fetch-site", "cross-site"),
        browser
            .bare_post(&forgot_url, &form)
            .header("origin", "null")
            .header("sec-fetch-site", "same-site"),
        // No token, or one that is not the cookie's.
        browser.post(&forgot_url, &[("email", "alice@example.com")]),
        browser.post(
            &forgot_url,
            &[
                ("email", "alice@example.com"),
                ("csrfToken", &"0".repeat(64)),
            ],
        ),
        // The token without its cookie.
        f.http
            .post(&forgot_url)
            .header("origin", &f.shim.base_url)
            .form(&form),
    ];
    for request in refusals {
        let refused = Page::sent(request).await;
        refused.assert_html(StatusCode::FORBIDDEN, "en");
        assert!(
            refused
                .body
                .contains("<h1>This form could not be sent</h1>"),
            "{}",
            refused.body
        );
        assert!(refused
            .body
            .contains(r#"<a id="retry" href="forgot-password">"#));
    }
    assert_eq!(f.outbox_count().await, 0);

    // The password form is guarded the same way.
    f.request_link("alice@example.com").await;
    let link = f.emailed_link().await;
    let pages_link = format!("{}?{}", page(&f, "reset-password"), link.query().unwrap());
    assert_eq!(browser.get(&pages_link).await.status, StatusCode::SEE_OTHER);
    let form = browser.get(&page(&f, "reset-password")).await;
    form.assert_html(StatusCode::OK, "en");
    let csrf_token = form.hidden("csrfToken").unwrap();
    let refused = Page::sent(
        browser
            .bare_post(
                &page(&f, "reset-password"),
                &[("password", NEW_PASSWORD), ("csrfToken", &csrf_token)],
            )
            .header("origin", "http://evil.example"),
    )
    .await;
    refused.assert_html(StatusCode::FORBIDDEN, "en");
    let refused =
        Page::sent(browser.post(&page(&f, "reset-password"), &[("password", NEW_PASSWORD)])).await;
    refused.assert_html(StatusCode::FORBIDDEN, "en");
    assert!(!alice_has_password(&f, NEW_PASSWORD).await);

    // `Origin: null` (what browsers send under Referrer-Policy: no-referrer) with a same-origin
    // fetch is our own page's post.
    let accepted = Page::sent(
        browser
            .bare_post(
                &page(&f, "reset-password"),
                &[("password", NEW_PASSWORD), ("csrfToken", &csrf_token)],
            )
            .header("origin", "null")
            .header("sec-fetch-site", "same-origin"),
    )
    .await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER, "{}", accepted.body);
    assert!(alice_has_password(&f, NEW_PASSWORD).await);
}

#[tokio::test]
async fn untrusted_callbacks_are_never_rendered() {
    let f = pages_fixture("pages_untrusted", &[]).await;
    let browser = Browser::new(&f);
    let evil = "http://evil.example/phish";

    let refused = browser
        .get(&with_query(
            &page(&f, "forgot-password"),
            &[("callbackUrl", evil)],
        ))
        .await;
    refused.assert_html(StatusCode::BAD_REQUEST, "en");
    assert!(!refused.body.contains("evil.example"), "{}", refused.body);
    assert!(set_cookie(&refused.headers, "nile.csrf-token").is_none());

    let done = browser
        .get(&with_query(&page(&f, "done"), &[("callbackUrl", evil)]))
        .await;
    done.assert_html(StatusCode::OK, "en");
    assert!(!done.body.contains("evil.example"), "{}", done.body);
    assert!(!done.body.contains(r#"id="continue""#));

    // Posted in the form's place: refused, nothing queued.
    let csrf_token = browser
        .get(&page(&f, "forgot-password"))
        .await
        .hidden("csrfToken")
        .unwrap();
    let posted = Page::sent(browser.post(
        &page(&f, "forgot-password"),
        &[
            ("email", "alice@example.com"),
            ("csrfToken", &csrf_token),
            ("callbackUrl", evil),
        ],
    ))
    .await;
    posted.assert_html(StatusCode::BAD_REQUEST, "en");
    assert!(!posted.body.contains("evil.example"), "{}", posted.body);
    assert_eq!(f.outbox_count().await, 0);

    // A link whose callback was swapped for another site's: invalid, and no cookie.
    f.request_link("alice@example.com").await;
    let link = f.emailed_link().await;
    let pairs: Vec<(String, String)> = link
        .query_pairs()
        .map(|(key, value)| {
            let value = if key == "callbackUrl" {
                evil.to_owned()
            } else {
                value.into_owned()
            };
            (key.into_owned(), value)
        })
        .collect();
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let swapped = browser
        .get(&with_query(&page(&f, "reset-password"), &pairs))
        .await;
    swapped.assert_html(StatusCode::BAD_REQUEST, "en");
    assert!(!swapped.body.contains("evil.example"), "{}", swapped.body);
    assert!(set_cookie(&swapped.headers, "nile.reset").is_none());
}

#[tokio::test]
async fn every_value_is_escaped() {
    let f = pages_fixture("pages_escaping", &[]).await;
    let browser = Browser::new(&f);
    // A trusted origin, with markup in its path and query.
    let hostile = format!(r#"{APP_ORIGIN}/"><script>alert(1)</script>?a=1&b='x'"#);

    let forgot = browser
        .get(&with_query(
            &page(&f, "forgot-password"),
            &[("callbackUrl", &hostile)],
        ))
        .await;
    forgot.assert_html(StatusCode::OK, "en");
    let escaped = r#"http://localhost:3000/&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;?a=1&#38;b=&#39;x&#39;"#;
    assert_eq!(forgot.hidden("callbackUrl").as_deref(), Some(escaped));

    let done = browser
        .get(&with_query(&page(&f, "done"), &[("callbackUrl", &hostile)]))
        .await;
    done.assert_html(StatusCode::OK, "en");
    assert!(
        done.body.contains(&format!(
            r#"<a id="continue" class="button" href="{escaped}">"#
        )),
        "{}",
        done.body
    );

    // An email with markup: refused by the database or not, it comes back escaped.
    let csrf_token = forgot.hidden("csrfToken").unwrap();
    let email = r#"<img src=x onerror=alert(1)>"@example.com"#;
    let answer = Page::sent(browser.post(
        &page(&f, "forgot-password"),
        &[("email", email), ("csrfToken", &csrf_token)],
    ))
    .await;
    assert!(!answer.body.contains("<img"), "{}", answer.body);
    assert!(
        answer.body.contains("&#60;img src=x onerror=alert(1)&#62;"),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn pages_keep_the_apis_rate_limit_and_latency_floor() {
    let f = pages_fixture(
        "pages_limits",
        &[
            "--rate-limit-per-minute",
            "3",
            "--min-response-time",
            "400ms",
        ],
    )
    .await;
    let browser = Browser::new(&f);
    let forgot = browser.get(&page(&f, "forgot-password")).await;
    let csrf_token = forgot.hidden("csrfToken").unwrap();

    // An address with no account answers no earlier than the floor.
    let started = Instant::now();
    let sent = Page::sent(browser.post(
        &page(&f, "forgot-password"),
        &[("email", "nobody@example.com"), ("csrfToken", &csrf_token)],
    ))
    .await;
    sent.assert_html(StatusCode::OK, "en");
    assert!(started.elapsed() >= Duration::from_millis(400));

    // So does a link that does not check out.
    let started = Instant::now();
    let invalid = browser
        .get(&with_query(
            &page(&f, "reset-password"),
            &[
                ("token", &"0".repeat(64)),
                ("identifier", "alice@example.com"),
                ("callbackUrl", &format!("{APP_ORIGIN}/")),
            ],
        ))
        .await;
    invalid.assert_html(StatusCode::BAD_REQUEST, "en");
    assert!(started.elapsed() >= Duration::from_millis(400));

    // The fourth page this minute: too many, as a page, with Retry-After.
    let limited = browser.get(&page(&f, "forgot-password")).await;
    limited.assert_html(StatusCode::TOO_MANY_REQUESTS, "en");
    assert!(
        limited.body.contains("<h1>Too many attempts</h1>"),
        "{}",
        limited.body
    );
    assert!(limited.headers.get(RETRY_AFTER).is_some());
    // The stylesheet is no attempt at anything.
    let css = f.http.get(page(&f, "style.css")).send().await.unwrap();
    assert_eq!(css.status(), StatusCode::OK);
}

#[tokio::test]
async fn errors_are_pages_too() {
    let f = pages_fixture("pages_errors", &[]).await;
    let browser = Browser::new(&f);
    // A database this server does not serve.
    let unknown = browser
        .get(
            &f.shim
                .url("/v2/databases/not_served/auth/pages/forgot-password"),
        )
        .await;
    unknown.assert_html(StatusCode::NOT_FOUND, "en");
    assert!(unknown.body.contains("<h1>Page not found</h1>"));
    // The form without a reset in progress, and a link missing its token.
    let no_reset = browser.get(&page(&f, "reset-password")).await;
    no_reset.assert_html(StatusCode::BAD_REQUEST, "en");
    assert!(no_reset
        .body
        .contains(r#"<a id="retry" href="forgot-password">"#));
    let no_token = browser
        .get(&with_query(
            &page(&f, "reset-password"),
            &[("identifier", "alice@example.com")],
        ))
        .await;
    no_token.assert_html(StatusCode::BAD_REQUEST, "en");
    // A form that is not one.
    let csrf_token = browser
        .get(&page(&f, "forgot-password"))
        .await
        .hidden("csrfToken")
        .unwrap();
    let not_a_form = Page::sent(
        browser
            .http
            .post(page(&f, "forgot-password"))
            .header("origin", &f.shim.base_url)
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"email": "alice@example.com", "csrfToken": "{csrf_token}"}}"#
            )),
    )
    .await;
    not_a_form.assert_html(StatusCode::BAD_REQUEST, "en");
    // An empty email: the form again, with the reason next to the field.
    let empty = Page::sent(browser.post(
        &page(&f, "forgot-password"),
        &[("email", " "), ("csrfToken", &csrf_token)],
    ))
    .await;
    empty.assert_html(StatusCode::BAD_REQUEST, "en");
    assert!(empty
        .body
        .contains(r#"<p id="email-error" class="error">Enter your email address.</p>"#));
}
