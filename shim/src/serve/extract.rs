//! Request extractors that answer failures the way Nile's clients expect (text/plain 4xx).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde_json::Value;

use super::databases::Database;
use super::error::ApiError;
use super::state::AppState;

/// The database named in the path, if this server serves it (otherwise 404).
pub struct ServedDatabase(pub Database);

impl FromRequestParts<Arc<AppState>> for ServedDatabase {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let Path(name) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::UnknownDatabase)?;
        state
            .databases
            .get(&name)
            .cloned()
            .map(ServedDatabase)
            .ok_or(ApiError::UnknownDatabase)
    }
}

/// A JSON body, parsed whatever the Content-Type says (Nile does the same, and its SDK is not
/// always careful with the header).
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::bad_request("Unable to read the request body")
                }
            })?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|_| ApiError::bad_request("Request body must be valid JSON"))
    }
}

impl JsonBody {
    /// Field `name` when it is a non-empty string.
    pub fn non_empty_string(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty())
    }

    /// Field `name` as an optional string: absent and null are `None`, other types are refused.
    pub fn optional_string(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(value)) => Ok(Some(value)),
            Some(_) => Err(ApiError::bad_request(format!("{name} must be a string"))),
        }
    }
}

/// The first value of query parameter `name`, decoded (URLSearchParams.get semantics).
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_params_decode_and_take_the_first_value() {
        let query = Some("token=a%2Bb&identifier=x%40y.z&token=second&empty=");
        assert_eq!(query_param(query, "token").as_deref(), Some("a+b"));
        assert_eq!(query_param(query, "identifier").as_deref(), Some("x@y.z"));
        assert_eq!(query_param(query, "empty").as_deref(), Some(""));
        assert_eq!(query_param(query, "missing"), None);
        assert_eq!(query_param(None, "token"), None);
    }

    #[test]
    fn body_fields() {
        let body = JsonBody(json!({"email": "a@b.c", "blank": "", "n": 5, "null": null}));
        assert_eq!(body.non_empty_string("email"), Some("a@b.c"));
        assert_eq!(body.non_empty_string("blank"), None);
        assert_eq!(body.non_empty_string("n"), None);
        assert_eq!(body.optional_string("null").unwrap(), None);
        assert_eq!(body.optional_string("absent").unwrap(), None);
        assert_eq!(body.optional_string("email").unwrap(), Some("a@b.c"));
        assert!(body.optional_string("n").is_err());
        // Not an object at all: every field is simply absent.
        assert_eq!(JsonBody(json!([1, 2])).non_empty_string("email"), None);
    }
}
