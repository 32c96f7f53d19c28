//! The reference pages of `serve --pages`: "forgot your password?", "choose a new password"
//! (where the emailed link lands) and "your password has been changed", under
//! `/v2/databases/{database}/auth/pages/`.
//!
//! Server-rendered HTML that needs no JavaScript: plain form posts, each checked against the
//! API's CSRF cookie and the browser's `Origin`/`Sec-Fetch-Site`. They call the same SQL as the
//! API's routes, behind the same rate limiter and latency floor, and they keep the token the
//! way the API does (its reset cookie), so the two can be mixed. Every page is sent with a
//! Content-Security-Policy that allows no script and no framing; its one stylesheet is served
//! beside it.
//!
//! Modules: `catalogue` (texts and languages), `templates` (askama), `routes` (the handlers),
//! `address` (our own URLs, same-origin posts), `reset_state` (the reset between link and form),
//! `policy` (the password policy as the form shows it).

mod address;
mod catalogue;
mod policy;
mod reset_state;
mod routes;
mod templates;

use std::fs;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use axum::body::Bytes;
use axum::http::header::{CONTENT_SECURITY_POLICY, X_FRAME_OPTIONS};
use axum::http::HeaderValue;
use axum::routing::get;
use axum::{Extension, Router};
use tower_http::set_header::SetResponseHeaderLayer;

use self::catalogue::Catalogue;
use super::state::AppState;

/// No script at all, styles only from our stylesheet, forms only to us, never in a frame.
const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; style-src 'self'; \
     img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The built-in stylesheet; `--pages-dir`'s `style.css` replaces it.
const STYLESHEET: &str = include_str!("../../../templates/style.css");

/// The file of `--pages-dir` that replaces the stylesheet.
const STYLESHEET_FILE: &str = "style.css";

/// What the pages are made of besides their templates: the texts and the stylesheet.
pub struct Pages {
    catalogue: Catalogue,
    stylesheet: Bytes,
}

impl Pages {
    /// The built-in pages, with the texts and stylesheet of `dir` (`--pages-dir`) laid on top.
    pub fn load(dir: Option<&Path>) -> anyhow::Result<Pages> {
        let Some(dir) = dir else {
            return Ok(Pages {
                catalogue: Catalogue::built_in()?,
                stylesheet: Bytes::from_static(STYLESHEET.as_bytes()),
            });
        };
        let catalogue = Catalogue::load(dir)?;
        let own_stylesheet = dir.join(STYLESHEET_FILE);
        let stylesheet = if own_stylesheet.exists() {
            Bytes::from(
                fs::read(&own_stylesheet)
                    .with_context(|| format!("cannot read {}", own_stylesheet.display()))?,
            )
        } else {
            Bytes::from_static(STYLESHEET.as_bytes())
        };
        Ok(Pages {
            catalogue,
            stylesheet,
        })
    }

    /// The language tags the pages answer in, the fallback first.
    pub fn languages(&self) -> Vec<&str> {
        self.catalogue.tags()
    }
}

/// The pages' routes, each answered with the pages' security headers (on top of the ones every
/// answer gets).
pub fn routes(pages: Arc<Pages>) -> Router<Arc<AppState>> {
    const PAGES: &str = "/v2/databases/{database}/auth/pages";
    Router::new()
        .route(
            &format!("{PAGES}/forgot-password"),
            get(routes::forgot_form).post(routes::request_link),
        )
        .route(
            &format!("{PAGES}/reset-password"),
            get(routes::open_link_or_form).post(routes::set_password),
        )
        .route(&format!("{PAGES}/done"), get(routes::done))
        .route(&format!("{PAGES}/style.css"), get(routes::stylesheet))
        .layer(Extension(pages))
        .layer(SetResponseHeaderLayer::overriding(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_dir_replaces_the_stylesheet_and_texts() {
        let dir = std::env::temp_dir().join(format!("nile-reset-pages-dir-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("style.css"), "body { color: teal }").unwrap();
        fs::write(dir.join("fr.toml"), "done_continue = \"Continuer\"\n").unwrap();
        let pages = Pages::load(Some(&dir));
        fs::remove_dir_all(&dir).unwrap();
        let pages = pages.unwrap();
        assert_eq!(&pages.stylesheet[..], b"body { color: teal }");
        assert_eq!(pages.languages(), ["en", "de", "fr"]);

        let built_in = Pages::load(None).unwrap();
        assert_eq!(&built_in.stylesheet[..], STYLESHEET.as_bytes());
        assert_eq!(built_in.languages(), ["en", "de"]);
        assert!(Pages::load(Some(Path::new("/nonexistent/pages"))).is_err());
    }
}
