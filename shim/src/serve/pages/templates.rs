//! The pages as askama templates (`shim/templates/*.html`), compiled into the binary. Every
//! value is HTML-escaped by askama; no markup is ever built from strings here.

use askama::Template;
use axum::http::header::{CONTENT_LANGUAGE, CONTENT_TYPE, VARY};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::catalogue::{Language, Messages};

/// What every page shows around its content, in one language.
pub struct Frame<'a> {
    pub lang: &'a str,
    pub t: &'a Messages,
    /// The page's heading.
    pub heading: &'a str,
    /// `<title>`: the heading, then the site's name when there is one.
    pub title: String,
}

impl<'a> Frame<'a> {
    /// The frame of the page whose heading is `heading(messages)`.
    pub fn new(language: &'a Language, heading: impl Fn(&Messages) -> &String) -> Frame<'a> {
        let t = &language.messages;
        let heading = heading(t).as_str();
        let title = if t.site_name.is_empty() {
            heading.to_owned()
        } else {
            format!("{heading} – {}", t.site_name)
        };
        Frame {
            lang: &language.tag,
            t,
            heading,
            title,
        }
    }
}

/// "Forgot your password?": the email field.
#[derive(Template)]
#[template(path = "forgot.html")]
pub struct ForgotPage<'a> {
    pub frame: Frame<'a>,
    /// As typed, when the form comes back with an error.
    pub email: &'a str,
    pub error: Option<&'a str>,
    pub csrf_token: &'a str,
    pub callback_url: Option<&'a str>,
}

/// "Check your email": the same whether or not the address has an account.
#[derive(Template)]
#[template(path = "sent.html")]
pub struct SentPage<'a> {
    pub frame: Frame<'a>,
    pub body: String,
    pub retry_href: String,
}

/// "Choose a new password".
#[derive(Template)]
#[template(path = "reset.html")]
pub struct ResetPage<'a> {
    pub frame: Frame<'a>,
    pub csrf_token: &'a str,
    /// The policy's refusal of the password just tried.
    pub error: Option<String>,
    pub requirements: String,
}

/// "Your password has been changed", and on to the callback URL when it is trusted.
#[derive(Template)]
#[template(path = "done.html")]
pub struct DonePage<'a> {
    pub frame: Frame<'a>,
    pub continue_url: Option<&'a str>,
}

/// A page that explains why something could not be done, with a way on.
#[derive(Template)]
#[template(path = "problem.html")]
pub struct ProblemPage<'a> {
    pub frame: Frame<'a>,
    pub body: &'a str,
    /// `(href, text)`.
    pub link: Option<(String, &'a str)>,
}

/// `page` as an HTML response in `lang`.
pub fn html(status: StatusCode, lang: &str, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => {
            let mut response =
                (status, [(CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
            let headers = response.headers_mut();
            if let Ok(lang) = HeaderValue::from_str(lang) {
                headers.insert(CONTENT_LANGUAGE, lang);
            }
            headers.insert(VARY, HeaderValue::from_static("Accept-Language"));
            response
        }
        Err(error) => {
            tracing::error!(%error, "a page failed to render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::pages::catalogue::Catalogue;

    #[test]
    fn every_value_is_escaped() {
        let catalogue = Catalogue::built_in().unwrap();
        let language = catalogue.negotiate(["en"]);
        let hostile = "\"><script>alert(1)</script>";
        let page = ForgotPage {
            frame: Frame::new(language, |t| &t.forgot_title),
            email: hostile,
            error: Some(hostile),
            csrf_token: hostile,
            callback_url: Some(hostile),
        };
        let html = page.render().unwrap();
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("\"><"), "{html}");
        // askama writes numeric character references.
        assert_eq!(html.matches("&#60;script&#62;").count(), 4, "{html}");
    }

    #[test]
    fn the_frame_names_the_language_and_the_site() {
        let catalogue = Catalogue::built_in().unwrap();
        let language = catalogue.negotiate(["de"]);
        let page = DonePage {
            frame: Frame::new(language, |t| &t.done_title),
            continue_url: None,
        };
        let html = page.render().unwrap();
        assert!(
            html.starts_with("<!DOCTYPE html>\n<html lang=\"de\">"),
            "{html}"
        );
        assert!(
            html.contains("<title>Ihr Passwort wurde geändert</title>"),
            "{html}"
        );
        assert!(!html.contains("id=\"continue\""), "{html}");
        let mut with_site = catalogue.negotiate(["en"]).messages.clone();
        with_site.site_name = "Acme & Co".into();
        let language = Language {
            tag: "en".into(),
            messages: with_site,
        };
        let page = DonePage {
            frame: Frame::new(&language, |t| &t.done_title),
            continue_url: Some("http://localhost:3000/?a=1&b=2"),
        };
        let html = page.render().unwrap();
        assert!(
            html.contains("<title>Your password has been changed – Acme &#38; Co</title>"),
            "{html}"
        );
        assert!(
            html.contains(
                r#"<a id="continue" class="button" href="http://localhost:3000/?a=1&#38;b=2">"#
            ),
            "{html}"
        );
    }
}
