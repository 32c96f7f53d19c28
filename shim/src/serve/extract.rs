//! Request extractors that answer failures the way Nile's clients expect (text/plain 4xx).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

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

/// Extracting it spends one token of the client's rate-limit bucket: 429 when there is none.
pub struct WithinRateLimit;

impl FromRequestParts<Arc<AppState>> for WithinRateLimit {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0);
        state
            .rate_limiter
            .admit(&parts.headers, peer)
            .map(|()| WithinRateLimit)
            .map_err(|wait| ApiError::TooManyRequests {
                retry_after_secs: wait.as_secs().max(1),
            })
    }
}

/// A JSON body, parsed whatever the Content-Type says (Nile does the same, and its SDK is not
/// always careful with the header). An object that repeats a key is refused: parsers disagree
/// on which one wins (serde_json: the last; others: the first), so a proxy or log in front of
/// us could read another email than we would.
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
        match serde_json::from_slice::<Unambiguous>(&bytes) {
            Ok(Unambiguous(value)) => Ok(JsonBody(value)),
            Err(_) if serde_json::from_slice::<IgnoredAny>(&bytes).is_ok() => {
                Err(ApiError::bad_request("Request body must not repeat a key"))
            }
            Err(_) => Err(ApiError::bad_request("Request body must be valid JSON")),
        }
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

/// A JSON value in which no object repeats a key.
struct Unambiguous(Value);

impl<'de> Deserialize<'de> for Unambiguous {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(UnambiguousVisitor)
            .map(Unambiguous)
    }
}

struct UnambiguousVisitor;

impl<'de> Visitor<'de> for UnambiguousVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value without repeated keys")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Value, E> {
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut values = Vec::new();
        while let Some(Unambiguous(value)) = seq.next_element()? {
            values.push(value);
        }
        Ok(Value::Array(values))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Unambiguous(value) = map.next_value()?;
            if object.insert(key, value).is_some() {
                return Err(de::Error::custom("a key is repeated"));
            }
        }
        Ok(Value::Object(object))
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

    fn parse(text: &str) -> Result<Value, String> {
        serde_json::from_str::<Unambiguous>(text)
            .map(|Unambiguous(value)| value)
            .map_err(|error| error.to_string())
    }

    #[test]
    fn repeated_keys_are_refused_at_any_depth() {
        let text = r#"{"email": "a@b.c", "n": [1, -2, 3.5, true, null], "o": {"k": "v"}}"#;
        assert_eq!(
            parse(text).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
        assert!(parse(r#"{"email": "a@b.c", "email": "e@f.g"}"#).is_err());
        assert!(parse(r#"{"o": {"k": 1, "k": 2}}"#).is_err());
        assert!(parse(r#"[{"k": 1}, {"k": 1, "k": 1}]"#).is_err());
        // The same key in different objects is fine.
        assert!(parse(r#"[{"k": 1}, {"k": 2}]"#).is_ok());
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
