//! The Proxy API routes: any method on
//! `/projects/{projectId}/sdk/proxy/{integrationType}/{*path}` and
//! `/projects/{projectId}/sdk/proxy/custom/{integrationId}/{*path}`, with a
//! user token. The work is `weft-proxy`'s; this module reads the request
//! and writes the answer.

use crate::context::{REQUEST_ID, RequestContext};
use crate::routes::{Access, Routes};
use crate::user_token::ProxyUser;
use crate::{ApiError, AppState};
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use http_body_util::BodyExt;
use tracing::Instrument;
use weft_egress::EgressError;
use weft_proxy::{Answer, ProxyCall, ProxyError, Target, TargetError};
use weft_store::ProjectId;

const BY_TYPE: &str = "/projects/{projectId}/sdk/proxy/{integrationType}/{*path}";
const CUSTOM: &str = "/projects/{projectId}/sdk/proxy/custom/{integrationId}/{*path}";

/// Largest request body forwarded.
const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

pub(crate) fn routes() -> Routes {
    let mut routes = Routes::new();
    for method in [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        routes = routes
            .add(method.clone(), BY_TYPE, Access::User, "Send a request to the provider as the user", proxy)
            .add(method, CUSTOM, Access::User, "Send a request to a custom integration's provider as the user", proxy);
    }
    routes
}

/// The project and route template of a Proxy API call of the usual shape:
/// `/projects/{uuid}/sdk/proxy/{type}/{path}` or
/// `/projects/{uuid}/sdk/proxy/custom/{id}/{path}`, every part non-empty,
/// with one of the routes' methods. [`serve_direct`] serves those; anything
/// else (a preflight, HEAD, an encoded project id, a malformed path) is
/// left to the router, whose answer for these is the same.
pub(crate) fn direct_route(method: &Method, path: &str) -> Option<(ProjectId, &'static str)> {
    if !matches!(*method, Method::GET | Method::POST | Method::PUT | Method::PATCH | Method::DELETE) {
        return None;
    }
    let (project, rest) = path.strip_prefix("/projects/")?.split_once('/')?;
    let (kind, rest) = rest.strip_prefix("sdk/proxy/")?.split_once('/')?;
    let (template, rest) = match kind {
        "custom" => {
            let (id, rest) = rest.split_once('/')?;
            (!id.is_empty()).then_some((CUSTOM, rest))?
        }
        _ => (BY_TYPE, rest),
    };
    if kind.is_empty() || rest.is_empty() {
        return None;
    }
    Some((project.parse().ok()?, template))
}

/// Serves a call [`direct_route`] accepted as the router would, in the same
/// request context (request id, span, CORS headers, error shape), but
/// without route matching and the per-request futures of the router's
/// layers: this is the path every proxied request takes.
pub(crate) async fn serve_direct<B: RequestBody>(
    state: AppState,
    req: http::Request<B>,
    project: ProjectId,
    template: &'static str,
    ip: Option<std::net::IpAddr>,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let (mut context, span) = RequestContext::begin(&state.cors, &parts.method, template, &mut parts.headers);
    let answered = async {
        let user = ProxyUser::of_project(&parts, &state, project, ip).await?;
        forward(&state, user, parts.method, &parts.uri, parts.headers, body).await
    }
    .instrument(span)
    .await;
    context.finish(answered.unwrap_or_else(IntoResponse::into_response))
}

/// A request body as the server hands it over. The fast path takes it as
/// it comes (no box per request); the router boxes it into a [`Body`].
pub(crate) trait RequestBody: HttpBody<Data = Bytes, Error: Into<axum::BoxError>> + Send + 'static {}

impl<B: HttpBody<Data = Bytes, Error: Into<axum::BoxError>> + Send + 'static> RequestBody for B {}

/// The request body, at most [`MAX_REQUEST_BYTES`] (a larger declared
/// length is refused before reading).
async fn read_body(body: impl RequestBody) -> Result<Bytes, ApiError> {
    crate::extract::refuse_declared_over(&body, MAX_REQUEST_BYTES)?;
    match http_body_util::Limited::new(body, MAX_REQUEST_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(crate::extract::too_large(MAX_REQUEST_BYTES)),
        Err(e) => Err(crate::extract::unreadable_body(&*e)),
    }
}

/// The integration and the rest of the path, from the raw (still
/// percent-encoded) request path.
fn split_path(uri: &Uri) -> Result<(Target<'_>, &str), ApiError> {
    let bad = || ApiError::bad_request("Send /projects/{projectId}/sdk/proxy/{integrationType}/{path}");
    let after = uri.path().split_once("/sdk/proxy/").map(|(_, rest)| rest).ok_or_else(bad)?;
    let (first, rest) = after.split_once('/').ok_or_else(bad)?;
    let (target, rest) = if first == "custom" {
        let (id, rest) = rest.split_once('/').ok_or_else(bad)?;
        let id = id.parse().map_err(|_| ApiError::not_found("integration not found"))?;
        (Target::Custom(id), rest)
    } else {
        (Target::Type(first), rest)
    };
    // `rest` ends the path, and the query follows it in the request target.
    let rest_at = uri.path().len() - rest.len();
    let path = uri.path_and_query().map_or(rest, |target| &target.as_str()[rest_at..]);
    Ok((target, path))
}

/// The routed handler (calls [`direct_route`] leaves to the router).
async fn proxy(
    State(state): State<AppState>,
    user: ProxyUser,
    verb: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    forward(&state, user, verb, &uri, headers, body).await
}

/// One call of an authenticated user: reads the request, runs it, answers.
async fn forward(
    state: &AppState,
    user: ProxyUser,
    verb: Method,
    uri: &Uri,
    headers: HeaderMap,
    body: impl RequestBody,
) -> Result<Response, ApiError> {
    let (target, path) = split_path(uri)?;
    let credential = match headers.get("x-paragon-credential").map(|v| v.to_str().map(str::trim)) {
        None => None,
        Some(Ok(id)) => Some(id.parse().map_err(|_| ApiError::not_found("credential not found"))?),
        Some(Err(_)) => return Err(ApiError::not_found("credential not found")),
    };
    let raw = headers
        .get("x-paragon-use-raw-response")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches!(v.trim(), "1" | "true"));
    let call = ProxyCall {
        project: user.project,
        user: user.user_id,
        target,
        // GET routes answer HEAD too; the provider gets a HEAD.
        method: weft_egress::Method::from_http(&verb)
            .ok_or_else(|| ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "Unsupported method"))?,
        path,
        request_id: headers.get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned(),
        headers,
        body: read_body(body).await?,
        credential,
        raw,
    };
    match state.proxy.call(call).await {
        Ok(Answer::Json { status, mut headers, body }) => {
            headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            Ok(respond(status, headers, Body::from(body)))
        }
        Ok(Answer::Raw { status, headers, body }) => Ok(respond(status, headers, Body::from_stream(body))),
        Err(e) => Err(proxy_error(e)),
    }
}

/// The provider's status and the headers kept, over `body`.
fn respond(status: u16, headers: HeaderMap, body: Body) -> Response {
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    *resp.headers_mut() = headers;
    resp
}

fn proxy_error(e: ProxyError) -> ApiError {
    match e {
        ProxyError::Credentials(e) => crate::connect::credential_error(e),
        ProxyError::Target(TargetError::HostNotPermitted(host)) => {
            tracing::info!(host = %host, "proxy target host not permitted");
            ApiError::new(
                StatusCode::FORBIDDEN,
                "HOST_NOT_PERMITTED",
                "This domain is invalid for the current integration",
            )
        }
        ProxyError::Target(TargetError::BadPath(m)) => ApiError::new(StatusCode::BAD_REQUEST, "INVALID_PATH", m),
        ProxyError::Target(e @ TargetError::TooLong) => {
            ApiError::new(StatusCode::URI_TOO_LONG, "TARGET_TOO_LONG", format!("{e}; send a shorter path or query"))
        }
        ProxyError::Target(TargetError::NoBaseUrl(m)) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "INTEGRATION_MISCONFIGURED", m)
        }
        ProxyError::RateLimited(wait) => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "The integration's rate limit is reached; retry after the delay in Retry-After",
        )
        .with_retry_after(wait),
        ProxyError::Egress(EgressError::Denied(why)) => {
            tracing::warn!(reason = %why, "proxy destination refused by the egress policy");
            ApiError::new(
                StatusCode::FORBIDDEN,
                "EGRESS_DENIED",
                "The destination is not allowed by the network policy",
            )
        }
        ProxyError::Egress(EgressError::Timeout) => {
            ApiError::new(StatusCode::GATEWAY_TIMEOUT, "PROVIDER_TIMEOUT", "The provider did not answer in time")
        }
        ProxyError::Egress(EgressError::TooLarge(limit)) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "RESPONSE_TOO_LARGE",
            format!("The provider's answer is larger than {limit} bytes"),
        ),
        ProxyError::Egress(EgressError::Connection(why)) => {
            tracing::warn!(reason = %why, "proxy call to the provider failed");
            ApiError::new(StatusCode::BAD_GATEWAY, "PROVIDER_UNREACHABLE", "The provider could not be reached")
        }
        ProxyError::Egress(EgressError::InvalidRequest(m)) => {
            ApiError::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", m)
        }
        ProxyError::BadAnswer(detail) => {
            ApiError::bad_gateway("PROVIDER_ERROR", "The provider's answer could not be read", detail)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_after_the_integration_keeps_its_query_as_received() {
        let p = "7d1c2a52-4a0e-4d8f-9a39-0f0b7a1d9c15";
        for (uri, kind, path) in [
            (format!("/projects/{p}/sdk/proxy/slack/chat.postMessage"), "slack", "chat.postMessage"),
            (format!("/projects/{p}/sdk/proxy/slack/a/b?c=d&e=%2F"), "slack", "a/b?c=d&e=%2F"),
            (format!("/projects/{p}/sdk/proxy/slack/https://x.test/y?z"), "slack", "https://x.test/y?z"),
            (format!("/projects/{p}/sdk/proxy/custom/{p}/v1/x?"), "custom", "v1/x?"),
        ] {
            let uri: Uri = uri.parse().unwrap();
            let (target, rest) = split_path(&uri).unwrap();
            match target {
                Target::Type(t) => assert_eq!(t, kind, "{uri}"),
                Target::Custom(id) => assert_eq!((kind, id.to_string()), ("custom", p.to_owned())),
            }
            assert_eq!(rest, path, "{uri}");
        }
    }

    #[tokio::test]
    async fn a_body_declared_over_the_limit_is_refused_before_reading_and_a_late_one_is_408() {
        use crate::extract::tests::{Stalled, TimedOut};
        let declared = read_body(Body::new(Stalled(1_000_000_000_000)));
        let refused = tokio::time::timeout(std::time::Duration::from_secs(10), declared).await.expect("at once");
        assert_eq!(refused.unwrap_err().status(), StatusCode::PAYLOAD_TOO_LARGE);
        let late = read_body(Body::new(TimedOut)).await.unwrap_err();
        assert_eq!(late.status(), StatusCode::REQUEST_TIMEOUT);
    }

    #[test]
    fn only_calls_of_the_usual_shape_skip_the_router() {
        let p = "7d1c2a52-4a0e-4d8f-9a39-0f0b7a1d9c15";
        let direct = |method: Method, path: &str| direct_route(&method, path).map(|(_, template)| template);
        assert_eq!(direct(Method::GET, &format!("/projects/{p}/sdk/proxy/slack/chat.postMessage")), Some(BY_TYPE));
        assert_eq!(direct(Method::DELETE, &format!("/projects/{p}/sdk/proxy/slack/a/b?c=d")), Some(BY_TYPE));
        assert_eq!(direct(Method::POST, &format!("/projects/{p}/sdk/proxy/custom/{p}/v1/x")), Some(CUSTOM));
        for (method, path) in [
            // Preflights and HEAD are the router's (CORS layer, body-less GET).
            (Method::OPTIONS, format!("/projects/{p}/sdk/proxy/slack/x")),
            (Method::HEAD, format!("/projects/{p}/sdk/proxy/slack/x")),
            (Method::TRACE, format!("/projects/{p}/sdk/proxy/slack/x")),
            // Shapes the router answers (404, or a percent-decoded id).
            (Method::GET, format!("/projects/{p}/sdk/proxy/slack/")),
            (Method::GET, format!("/projects/{p}/sdk/proxy/slack")),
            (Method::GET, format!("/projects/{p}/sdk/proxy//x")),
            (Method::GET, format!("/projects/{p}/sdk/proxy/custom/{p}")),
            (Method::GET, format!("/projects/{p}/sdk/proxy/custom//x")),
            (Method::GET, format!("/projects/{p}/sdk/me")),
            (Method::GET, "/projects/not-a-uuid/sdk/proxy/slack/x".to_owned()),
            (Method::GET, format!("/projects/{}%2D{}/sdk/proxy/slack/x", &p[..8], &p[9..])),
            (Method::GET, format!("/v2/projects/{p}/sdk/proxy/slack/x")),
        ] {
            assert_eq!(direct(method.clone(), &path), None, "{method} {path}");
        }
    }
}
