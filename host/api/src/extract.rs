//! Extractors whose rejections are [`ApiError`]s, so a body, query or path
//! the API cannot read is answered in the error shape with a stable code
//! and a message saying what was wrong and where, never axum's plain text:
//!
//! | code                     | status | the request                                   |
//! |--------------------------|--------|-----------------------------------------------|
//! | `INVALID_JSON`           | 400    | has a body that is not JSON                   |
//! | `UNSUPPORTED_MEDIA_TYPE` | 415    | has a body whose `Content-Type` is not JSON   |
//! | `PAYLOAD_TOO_LARGE`      | 413    | has a body over the limit, or declares one (`Content-Length`), refused before it is read |
//! | `REQUEST_TIMEOUT`        | 408    | has a body that did not arrive in time (`server.body_read_timeout_ms`) |
//! | `INVALID_BODY`           | 400    | has a body that cannot be read, or JSON that does not fit the route ([`json_body`]) |
//! | `INVALID_QUERY`          | 400    | has a query the route cannot read             |
//! | `INVALID_PATH`           | 400    | has a path parameter the route cannot read    |
//!
//! Handlers use these in place of axum's `Json`, `Query` and `Path`.

use crate::ApiError;
use axum::extract::rejection::{FailedToDeserializePathParams, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, Request};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Largest JSON body read: axum's default body limit, which the router
/// keeps.
const MAX_JSON_BYTES: usize = 2 * 1024 * 1024;

/// A JSON body, or a JSON answer. As an optional extractor
/// (`Option<Json<T>>`), a request without `Content-Type` has no body.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        refuse_declared_over(req.body(), MAX_JSON_BYTES)?;
        let axum::Json(value) =
            <axum::Json<T> as FromRequest<S>>::from_request(req, state).await.map_err(json_rejection)?;
        Ok(Json(value))
    }
}

impl<T: DeserializeOwned, S: Send + Sync> OptionalFromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, ApiError> {
        // An empty body is no body, whatever its declared type (browser SDKs
        // send `Content-Type: application/json` on body-less POSTs).
        if req.headers().get(http::header::CONTENT_LENGTH).is_some_and(|v| v == "0") {
            return Ok(None);
        }
        // Without a `Content-Type` the body is not read (it is absent).
        if req.headers().contains_key(http::header::CONTENT_TYPE) {
            refuse_declared_over(req.body(), MAX_JSON_BYTES)?;
        }
        let body = <axum::Json<T> as OptionalFromRequest<S>>::from_request(req, state).await;
        Ok(body.map_err(json_rejection)?.map(|axum::Json(value)| Json(value)))
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// 413 for a body over `limit` bytes.
pub(crate) fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        format!("The request body is larger than {limit} bytes"),
    )
}

/// 413 at once for a request whose declared length (`Content-Length`) is
/// over `limit`: reading would only wait for bytes that will be refused,
/// and a client declaring far more than it sends would hold the request
/// open until the body timeout.
pub(crate) fn refuse_declared_over(body: &impl axum::body::HttpBody, limit: usize) -> Result<(), ApiError> {
    if body.size_hint().lower() > limit as u64 { Err(too_large(limit)) } else { Ok(()) }
}

/// 408 for a body that did not arrive in time (the server's body timer
/// fails the read with [`std::io::ErrorKind::TimedOut`]), 400 for one that
/// could not be received otherwise.
pub(crate) fn unreadable_body(cause: &(dyn std::error::Error + 'static)) -> ApiError {
    let mut next = Some(cause);
    while let Some(e) = next {
        if e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::TimedOut) {
            return ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "REQUEST_TIMEOUT",
                "The request body did not arrive in time",
            );
        }
        next = e.source();
    }
    ApiError::bad_request("The request body could not be read")
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "The request body must be JSON: send it with `Content-Type: application/json`",
        ),
        JsonRejection::JsonSyntaxError(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
            format!("The request body is not valid JSON: {}", detail(&e)),
        ),
        // The data does not fit `T`; handlers that say what to send read a
        // `serde_json::Value` and use `json_body`.
        JsonRejection::JsonDataError(e) => {
            ApiError::bad_request(format!("The request body does not fit: {}", detail(&e)))
        }
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => too_large(MAX_JSON_BYTES),
        JsonRejection::BytesRejection(e) => unreadable_body(&e),
        other => ApiError::bad_request(format!("The request body cannot be read: {}", other.body_text())),
    }
}

/// What a rejection wrapping a parser's error says about the input: the
/// parser's words (position, field, expected value), without axum's prefix.
fn detail(e: &dyn std::error::Error) -> String {
    e.source().map_or_else(|| e.to_string(), ToString::to_string)
}

/// Reads an optional JSON body into `T`; a missing or unfitting body gets
/// 400 `INVALID_BODY` with `example` showing what to send.
pub(crate) fn json_body<T: DeserializeOwned>(
    raw: Option<Json<serde_json::Value>>,
    example: &str,
) -> Result<T, ApiError> {
    let value = raw.map(|Json(v)| v).unwrap_or(serde_json::Value::Null);
    serde_json::from_value(value).map_err(|e| ApiError::bad_request(format!("Send {example}: {e}")))
}

/// The query string, deserialized.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_QUERY",
                format!("The query string is invalid: {}", detail(&e)),
            )),
            Err(other) => Err(ApiError::new(StatusCode::BAD_REQUEST, "INVALID_QUERY", other.body_text())),
        }
    }
}

/// The route's path parameters, percent-decoded and deserialized.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => Err(path_rejection(e)),
            // No parameters where the route declares some: a route bug.
            Err(other) => Err(ApiError::internal(other.body_text())),
        }
    }
}

fn path_rejection(e: FailedToDeserializePathParams) -> ApiError {
    use axum::extract::path::ErrorKind as K;
    let invalid = |message: String| ApiError::new(StatusCode::BAD_REQUEST, "INVALID_PATH", message);
    match e.into_kind() {
        K::InvalidUtf8InPathParam { key } => {
            invalid(format!("The path parameter `{key}` is not UTF-8 once percent-decoded"))
        }
        K::ParseErrorAtKey { key, value, .. } | K::DeserializeError { key, value, .. } => {
            invalid(format!("The path parameter `{key}` has an invalid value {value:?}"))
        }
        K::ParseErrorAtIndex { value, .. } | K::ParseError { value, .. } => {
            invalid(format!("The path has an invalid value {value:?}"))
        }
        // The route's parameters do not fit the handler's type: a route bug.
        other @ (K::WrongNumberOfParameters { .. } | K::UnsupportedType { .. }) => ApiError::internal(other),
        other => invalid(format!("The path is invalid: {other}")),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::{get, post};
    use serde_json::{Value, json};
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use tower::ServiceExt;

    #[derive(serde::Deserialize)]
    struct Page {
        #[allow(dead_code)]
        limit: Option<u32>,
    }

    async fn optional_body(body: Option<Json<Value>>) -> Json<Value> {
        Json(json!({ "sent": body.map(|Json(v)| v) }))
    }

    async fn required_body(Json(body): Json<Value>) -> Json<Value> {
        Json(body)
    }

    async fn page(Query(_): Query<Page>) -> &'static str {
        "ok"
    }

    async fn named(Path(name): Path<String>) -> String {
        name
    }

    fn app() -> Router {
        Router::new()
            .route("/optional", post(optional_body))
            .route("/required", post(required_body))
            .route("/page", get(page))
            .route("/named/{name}", get(named))
            .layer(crate::context::Context::default())
    }

    async fn send(method: &str, uri: &str, content_type: Option<&str>, body: impl Into<Body>) -> (u16, Value) {
        let mut req = http::Request::builder().method(method).uri(uri);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = app().oneshot(req.body(body.into()).unwrap()).await.unwrap();
        let status = resp.status().as_u16();
        let bytes = http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(format!("{bytes:?}"))))
    }

    fn assert_error(answer: &(u16, Value), status: u16, code: &str, mentions: &str) {
        let (got, body) = answer;
        assert_eq!((*got, body["code"].as_str()), (status, Some(code)), "{body}");
        assert_eq!(body["status"], status);
        assert!(body["message"].as_str().unwrap().contains(mentions), "{body}");
        assert!(!body["meta"]["requestId"].as_str().unwrap().is_empty(), "{body}");
    }

    #[tokio::test]
    async fn a_malformed_json_body_is_invalid_json_with_where_it_broke() {
        for uri in ["/optional", "/required"] {
            let answer = send("POST", uri, Some("application/json"), r#"{"name": "#).await;
            assert_error(&answer, 400, "INVALID_JSON", "line 1 column");
        }
        let answer = send("POST", "/required", Some("application/json"), "{} trailing").await;
        assert_error(&answer, 400, "INVALID_JSON", "trailing");
    }

    #[tokio::test]
    async fn a_body_that_is_not_declared_json_is_unsupported_media_type() {
        for (uri, content_type) in
            [("/optional", Some("text/plain")), ("/required", Some("text/plain")), ("/required", None)]
        {
            let answer = send("POST", uri, content_type, r#"{"name": "x"}"#).await;
            assert_error(&answer, 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type: application/json");
        }
        // Without a Content-Type an optional body is absent, as before.
        assert_eq!(send("POST", "/optional", None, "").await, (200, json!({ "sent": null })));
        let sent = send("POST", "/optional", Some("application/vnd.api+json"), r#"{"a": 1}"#).await;
        assert_eq!(sent, (200, json!({ "sent": { "a": 1 } })));
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_payload_too_large() {
        let big = format!(r#"{{"pad": "{}"}}"#, "x".repeat(MAX_JSON_BYTES));
        let answer = send("POST", "/required", Some("application/json"), big).await;
        assert_error(&answer, 413, "PAYLOAD_TOO_LARGE", &MAX_JSON_BYTES.to_string());
    }

    type Frame = Poll<Option<Result<http_body::Frame<axum::body::Bytes>, std::io::Error>>>;

    /// A body that declares `.0` bytes and never sends one.
    pub(crate) struct Stalled(pub(crate) u64);

    impl axum::body::HttpBody for Stalled {
        type Data = axum::body::Bytes;
        type Error = std::io::Error;

        fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Frame {
            Poll::Pending
        }

        fn size_hint(&self) -> http_body::SizeHint {
            http_body::SizeHint::with_exact(self.0)
        }
    }

    /// A body whose read fails as the server's body timer fails it.
    pub(crate) struct TimedOut;

    impl axum::body::HttpBody for TimedOut {
        type Data = axum::body::Bytes;
        type Error = std::io::Error;

        fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Frame {
            let error = std::io::Error::new(std::io::ErrorKind::TimedOut, "the request body did not arrive in time");
            Poll::Ready(Some(Err(error)))
        }
    }

    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_payload_too_large_before_reading() {
        let declared = (MAX_JSON_BYTES + 1) as u64;
        for uri in ["/optional", "/required"] {
            let sent = send("POST", uri, Some("application/json"), Body::new(Stalled(declared)));
            let answer = tokio::time::timeout(std::time::Duration::from_secs(10), sent).await.expect("answered");
            assert_error(&answer, 413, "PAYLOAD_TOO_LARGE", &MAX_JSON_BYTES.to_string());
        }
    }

    #[tokio::test]
    async fn a_body_that_did_not_arrive_in_time_is_request_timeout() {
        for uri in ["/optional", "/required"] {
            let answer = send("POST", uri, Some("application/json"), Body::new(TimedOut)).await;
            assert_error(&answer, 408, "REQUEST_TIMEOUT", "in time");
        }
    }

    #[tokio::test]
    async fn a_query_that_does_not_fit_is_invalid_query_naming_the_parameter() {
        assert_error(&send("GET", "/page?limit=lots", None, "").await, 400, "INVALID_QUERY", "limit");
        assert_error(&send("GET", "/page?limit=1&limit=2", None, "").await, 400, "INVALID_QUERY", "duplicate");
        assert_eq!(send("GET", "/page?limit=5&other=x", None, "").await.0, 200);
    }

    #[tokio::test]
    async fn a_path_parameter_that_is_not_text_is_invalid_path_naming_it() {
        assert_error(&send("GET", "/named/%FF", None, "").await, 400, "INVALID_PATH", "`name`");
        assert_eq!(send("GET", "/named/caf%C3%A9", None, "").await.0, 200);
    }

    #[test]
    fn json_body_says_what_to_send() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Named {
            name: String,
        }
        let err = json_body::<Named>(None, r#"{"name": "..."}"#).unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        let body: Value = serde_json::from_slice(&err.body("r")).unwrap();
        assert_eq!(body["code"], "INVALID_BODY");
        assert!(body["message"].as_str().unwrap().starts_with(r#"Send {"name": "..."}"#), "{body}");
    }
}
