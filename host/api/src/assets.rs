//! The browser assets under `web/`: the SDK (`/sdk/connect.js`,
//! `/sdk/connect.mjs`), the Connect Portal page (`/portal/`), the page the
//! reference's SDK loads as its portal (`/ui`) and the offline demo's
//! catalog (`/demo/`, only when the server runs the demo).
//!
//! They are compiled into the binary, so a server needs neither a CDN nor
//! the repository at run time. `web.dir` (`WEFT__WEB__DIR`) makes it read
//! them from a directory on every request instead, for working on them
//! without rebuilding.

use crate::routes::{Access, Routes};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderValue, Method, StatusCode, header};
use std::borrow::Cow;
use std::path::PathBuf;

#[derive(rust_embed::RustEmbed)]
#[folder = "../../web/"]
struct Embedded;

/// Where the assets come from, and whether the demo's are served.
#[derive(Debug, Clone, Default)]
pub struct WebAssets {
    /// Read the files from here instead of the embedded copies.
    pub dir: Option<PathBuf>,
    /// Serve `/demo/` (`weft serve --demo`).
    pub demo: bool,
}

impl WebAssets {
    /// The file at `path` (relative to `web/`), if there is one.
    fn file(&self, path: &str) -> Option<Cow<'static, [u8]>> {
        // Only plain names: no `..`, no absolute paths, no hidden files.
        if path.split('/').any(|part| part.is_empty() || part.starts_with('.')) {
            return None;
        }
        match &self.dir {
            Some(dir) => std::fs::read(dir.join(path)).ok().map(Cow::Owned),
            None => Embedded::get(path).map(|f| f.data),
        }
    }
}

pub(crate) fn routes() -> Routes {
    Routes::new()
        .add(Method::GET, "/sdk/{file}", Access::Public, "The browser SDK (connect.js, connect.mjs)", sdk)
        .add(Method::GET, "/portal", Access::Public, "The Connect Portal page", to_portal)
        .add(Method::GET, "/portal/", Access::Public, "The Connect Portal page", portal_page)
        .add(Method::GET, "/portal/{file}", Access::Public, "The Connect Portal's scripts and styles", portal_file)
        .add(Method::GET, "/ui", Access::Public, "The Connect Portal for the reference's SDK", ui_page)
        .add(Method::GET, "/ui/{file}", Access::Public, "The reference SDK portal's scripts", ui_file)
        .add(Method::GET, "/demo", Access::Public, "The offline demo's catalog (weft serve --demo)", to_demo)
        .add(Method::GET, "/demo/", Access::Public, "The offline demo's catalog (weft serve --demo)", demo_page)
        .add(Method::GET, "/demo/{file}", Access::Public, "The offline demo's scripts and styles", demo_file)
}

/// The page's policy: its own scripts, styles and API only; images from
/// anywhere (integration icons); framed by any app (the portal is shown
/// over the app's page; it holds nothing until the app hands it a token).
const PAGE_POLICY: &str = "default-src 'self'; img-src * data:; style-src 'self'; script-src 'self'; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors *";

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// Answers `path` under `web/`, or 404 in the API's error shape.
fn serve(assets: &WebAssets, path: &str) -> Response {
    let Some(body) = assets.file(path) else {
        return ApiError::not_found("No such file").into_response();
    };
    let mut resp = (StatusCode::OK, body.into_owned()).into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // Revalidated on each load, so an upgraded server's files are used at once.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if path.starts_with("sdk/") {
        // Any app's page loads the SDK, as a module too (which needs CORS).
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    if path.ends_with(".html") {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_POLICY));
    }
    resp
}

async fn sdk(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    serve(&state.web, &format!("sdk/{file}"))
}

async fn to_portal() -> Redirect {
    Redirect::permanent("/portal/")
}

async fn portal_page(State(state): State<AppState>) -> Response {
    serve(&state.web, "portal/index.html")
}

async fn portal_file(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    serve(&state.web, &format!("portal/{file}"))
}

async fn ui_page(State(state): State<AppState>) -> Response {
    serve(&state.web, "ui/index.html")
}

async fn ui_file(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    serve(&state.web, &format!("ui/{file}"))
}

async fn to_demo(State(state): State<AppState>) -> Response {
    if !state.web.demo {
        return crate::demo::off().into_response();
    }
    Redirect::permanent("/demo/").into_response()
}

async fn demo_page(State(state): State<AppState>) -> Response {
    if !state.web.demo {
        return crate::demo::off().into_response();
    }
    serve(&state.web, "demo/index.html")
}

async fn demo_file(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    if !state.web.demo {
        return crate::demo::off().into_response();
    }
    serve(&state.web, &format!("demo/{file}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_are_read() {
        let dir = std::env::temp_dir().join(format!("weft-assets-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("portal")).unwrap();
        std::fs::write(dir.join("portal/index.html"), "<p>portal</p>").unwrap();
        std::fs::write(dir.join("secret"), "no").unwrap();
        let assets = WebAssets { dir: Some(dir.clone()), demo: false };
        assert_eq!(assets.file("portal/index.html").as_deref(), Some(&b"<p>portal</p>"[..]));
        for bad in ["portal/../secret", "../secret", "portal//index.html", "/etc/passwd", "portal/.hidden", ""] {
            assert!(assets.file(bad).is_none(), "{bad}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_embedded_sdk_and_portal_are_there() {
        let assets = WebAssets::default();
        for file in [
            "sdk/connect.js",
            "sdk/connect.mjs",
            "portal/index.html",
            "ui/index.html",
            "ui/bridge.js",
            "demo/index.html",
        ] {
            assert!(assets.file(file).is_some_and(|b| !b.is_empty()), "{file} is not embedded");
        }
    }
}
