//! `/openapi.json`, generated from the route table so it covers every route
//! by construction: methods, paths, path parameters, summaries and the
//! credentials each route takes.

use crate::routes::{Access, RouteSpec};
use http::Method;
use serde_json::Value;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, InfoBuilder, ObjectBuilder, OpenApiBuilder, PathsBuilder, Required, Response, Type,
};

/// Security scheme names in the document.
const USER_TOKEN: &str = "userToken";
const API_KEY: &str = "apiKey";
const OPERATOR_KEY: &str = "operatorKey";

fn http_method(m: &Method) -> HttpMethod {
    match *m {
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::PATCH => HttpMethod::Patch,
        Method::DELETE => HttpMethod::Delete,
        Method::HEAD => HttpMethod::Head,
        Method::OPTIONS => HttpMethod::Options,
        _ => HttpMethod::Get,
    }
}

/// `{name}` segments of a path pattern.
fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

fn operation(route: &RouteSpec) -> utoipa::openapi::path::Operation {
    let params = path_params(route.path).map(|name| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .build()
    });
    let mut op = OperationBuilder::new()
        .summary(Some(route.summary))
        .operation_id(Some(format!("{} {}", route.method, route.path)))
        .parameters(Some(params))
        .response("200", Response::new("Success"))
        .response("default", Response::new("Error: {message, code, status, meta: {requestId}}"));
    let scheme = match route.access {
        Access::Public => None,
        Access::User => Some(USER_TOKEN),
        Access::Operator => Some(OPERATOR_KEY),
        Access::Project(_) => Some(API_KEY),
    };
    if let Some(s) = scheme {
        op = op.security(SecurityRequirement::new::<_, [&str; 0], &str>(s, []));
    }
    if let Access::Project(roles) = route.access {
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        op = op.description(Some(format!("API key roles: {}", names.join(", "))));
    }
    op.build()
}

/// The OpenAPI 3.1 document of `routes`.
pub fn document(routes: &[RouteSpec]) -> Value {
    let paths = routes
        .iter()
        .fold(PathsBuilder::new(), |paths, r| paths.path(r.path, PathItem::new(http_method(&r.method), operation(r))));
    let bearer = || SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer));
    let components = ComponentsBuilder::new()
        .security_scheme(USER_TOKEN, bearer())
        .security_scheme(API_KEY, bearer())
        .security_scheme(OPERATOR_KEY, bearer())
        .build();
    let doc = OpenApiBuilder::new()
        .info(InfoBuilder::new().title("Weft").version(env!("CARGO_PKG_VERSION")).build())
        .paths(paths.build())
        .components(Some(components))
        .build();
    serde_json::to_value(doc).unwrap_or(Value::Null)
}
