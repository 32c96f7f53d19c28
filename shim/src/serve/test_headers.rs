//! Unit tests' request headers, built from name/value pairs.

use axum::http::{HeaderMap, HeaderName, HeaderValue};

/// A header map holding `pairs` in order; a repeated name appends.
pub(crate) fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}
