//! The `libraries` argument: npm packages embedded at build time (see
//! `LIBRARIES.md`), each evaluated on first access so a function that uses
//! none pays nothing for them, plus `fetch` and `crypto`.
//!
//! Packages are CommonJS files run by a tiny module loader (`require` of
//! relative paths and of the few bare names the bundled packages use), or a
//! browser build that assigns a `window` global.

use crate::modules::MODULES;
use boa_engine::object::{FunctionObjectBuilder, ObjectInitializer};
use boa_engine::property::{Attribute, PropertyDescriptor};
use boa_engine::{Context, JsArgs, JsNativeError, JsObject, JsResult, JsValue, NativeFunction, Source, js_string};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;

/// Where a library's value comes from.
#[derive(Clone, Copy)]
enum Entry {
    /// `module.exports` of a CommonJS file, or one property of it.
    Module(&'static str, Option<&'static str>),
    /// A browser build that sets `window[name]`.
    Window(&'static str, &'static str),
    /// Built on native code, from `node.js`.
    Node(&'static str),
}

/// Access key (`libraries[key]`) → where it comes from.
const BUNDLED: &[(&str, Entry)] = &[
    ("uuid", Entry::Module("uuid/dist/commonjs-browser/index.js", None)),
    ("lodash", Entry::Module("lodash/lodash.min.js", None)),
    ("lodash/fp", Entry::Module("lodash/fp.js", None)),
    ("dateFns", Entry::Window("date-fns/cdn.min.js", "dateFns")),
    ("moment", Entry::Module("moment/min/moment.min.js", None)),
    ("Buffer", Entry::Module("buffer/index.js", Some("Buffer"))),
    ("jsonwebtoken", Entry::Node("jsonwebtoken")),
    ("FormData", Entry::Node("FormData")),
];

/// Node `crypto` functions added to the global `crypto` (also
/// `libraries.crypto` and `require("crypto")`), built on first use.
const CRYPTO: &[&str] = &["createHash", "createHmac", "randomBytes"];

/// npm names a user's `require` may also use, and bare names the bundled
/// packages require among themselves.
const PACKAGE_NAMES: &[(&str, &str)] = &[("date-fns", "dateFns"), ("buffer", "Buffer"), ("form-data", "FormData")];
const BARE_MODULES: &[(&str, &str)] =
    &[("base64-js", "base64-js/index.js"), ("ieee754", "ieee754/index.js"), ("buffer", "buffer/index.js")];

/// Libraries of the reference that open their own connections (databases,
/// SDKs with their own HTTP client, raw sockets): absent by design.
const NETWORK: &[&str] = &[
    "aws-sdk",
    "cloudflare",
    "firebase",
    "firebaseAdmin",
    "https",
    "ioredis",
    "jsforce",
    "Mailgun",
    "mercury",
    "mongodb",
    "mssql",
    "mysql2",
    "neo4j-driver",
    "oauth",
    "pg",
    "redis",
    "s3",
    "segment",
    "sendgrid",
    "sendpulse",
    "sequelize",
    "slack",
    "snowflake-sdk",
    "ssh2-sftp-client",
    "twilio",
    "web3",
];

/// Libraries of the reference not bundled (yet).
const NOT_BUNDLED: &[&str] = &[
    "archiver",
    "bluebird",
    "cheerio",
    "cryptr",
    "csv",
    "csv/lib/sync",
    "fast-xml-parser",
    "fuse.js",
    "libphonenumber",
    "luxon",
    "mime",
    "numberToWords",
    "pdf",
    "ramda",
    "throttle",
    "underscore",
    "underscore.string",
    "unzipper",
    "url",
];

thread_local! {
    /// Evaluated libraries by access key, shared by `libraries`, `require`
    /// and the `Buffer` global.
    static LOADED: RefCell<HashMap<&'static str, JsValue>> = RefCell::default();
    /// CommonJS `module` objects by id, inserted before the module runs so
    /// cyclic requires see the partial exports, as in Node.
    static MODULE_CACHE: RefCell<HashMap<&'static str, JsObject>> = RefCell::default();
}

fn source(id: &str) -> Option<(&'static str, &'static str)> {
    MODULES.iter().find(|(m, _)| *m == id).copied()
}

/// Resolves `request` from a module in directory `dir` to a module id.
fn resolve(dir: &str, request: &str) -> Option<&'static str> {
    if !request.starts_with("./") && !request.starts_with("../") {
        return BARE_MODULES.iter().find(|(name, _)| *name == request).map(|(_, id)| *id);
    }
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in request.split('/') {
        match part {
            "." | "" => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    let path = parts.join("/");
    [path.clone(), format!("{path}.js"), format!("{path}/index.js")].iter().find_map(|p| source(p)).map(|(id, _)| id)
}

fn dir_of(id: &'static str) -> &'static str {
    id.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// Runs module `id` (once) and returns its `module` object and `window`.
fn load_module(id: &'static str, cx: &mut Context) -> JsResult<(JsObject, JsObject)> {
    let window = ObjectInitializer::new(cx).build();
    if let Some(module) = MODULE_CACHE.with_borrow(|c| c.get(id).cloned()) {
        return Ok((module, window));
    }
    let (_, text) = source(id).ok_or_else(|| JsNativeError::error().with_message(format!("module {id} is missing")))?;
    let exports = ObjectInitializer::new(cx).build();
    let module = ObjectInitializer::new(cx).property(js_string!("exports"), exports.clone(), Attribute::all()).build();
    MODULE_CACHE.with_borrow_mut(|c| c.insert(id, module.clone()));
    let wrapped = format!("(function (exports, require, module, window, self, global) {{\n{text}\n}})");
    let path = format!("lib/{id}");
    let function = cx.eval(Source::from_bytes(&wrapped).with_path(Path::new(&path)))?;
    let function = function.as_callable().ok_or_else(|| JsNativeError::error().with_message("bad module wrapper"))?;
    let require = require_function(dir_of(id), cx);
    let global = cx.global_object();
    let args = [
        exports.into(),
        require.into(),
        module.clone().into(),
        window.clone().into(),
        window.clone().into(),
        global.into(),
    ];
    function.call(&JsValue::undefined(), &args, cx)?;
    Ok((module, window))
}

/// The value of bundled library `key`, evaluated on first use.
fn library(key: &'static str, cx: &mut Context) -> JsResult<JsValue> {
    if let Some(v) = LOADED.with_borrow(|l| l.get(key).cloned()) {
        return Ok(v);
    }
    let entry = BUNDLED.iter().find(|(k, _)| *k == key).map(|(_, e)| *e);
    let entry = entry.or_else(|| CRYPTO.contains(&key).then_some(Entry::Node(key)));
    let value = match entry {
        Some(Entry::Module(id, property)) => {
            let (module, _) = load_module(id, cx)?;
            let exports = module.get(js_string!("exports"), cx)?;
            match (property, exports.as_object()) {
                (Some(p), Some(o)) => o.get(js_string!(p), cx)?,
                _ => exports,
            }
        }
        Some(Entry::Window(id, name)) => load_module(id, cx)?.1.get(js_string!(name), cx)?,
        Some(Entry::Node(name)) => crate::native::node_library(name, cx)?,
        None => return Err(absent(key).into()),
    };
    LOADED.with_borrow_mut(|l| l.insert(key, value.clone()));
    Ok(value)
}

fn absent(key: &str) -> JsNativeError {
    let why = if NETWORK.contains(&key) {
        "it opens its own network connections, which a step may not; call the service's HTTP API with libraries.fetch"
    } else {
        "it is not bundled with Weft"
    };
    JsNativeError::error().with_message(format!("libraries[\"{key}\"] is not available in Weft Function steps: {why}"))
}

/// `require` for the user (`dir` empty: access keys and npm names of the
/// bundled libraries) or for a bundled module (paths relative to `dir`).
fn require_function(dir: &'static str, cx: &mut Context) -> JsObject {
    let native = NativeFunction::from_copy_closure(move |_, args, cx| {
        let request = args.get_or_undefined(0).to_string(cx)?.to_std_string_lossy();
        if dir.is_empty() {
            let key = PACKAGE_NAMES.iter().find(|(n, _)| *n == request).map(|(_, k)| *k).unwrap_or(&request);
            if let Some((key, _)) = BUNDLED.iter().find(|(k, _)| *k == key) {
                return library(key, cx);
            }
            if request == "crypto" {
                return cx.global_object().get(js_string!("crypto"), cx);
            }
            return Err(JsNativeError::error()
                .with_message(format!(
                    "Cannot find module '{request}': Function steps load only the bundled libraries, through the `libraries` argument"
                ))
                .into());
        }
        let id = resolve(dir, &request)
            .ok_or_else(|| JsNativeError::error().with_message(format!("Cannot find module '{request}'")))?;
        let (module, _) = load_module(id, cx)?;
        module.get(js_string!("exports"), cx)
    });
    FunctionObjectBuilder::new(cx.realm(), native).name(js_string!("require")).length(1).build().into()
}

/// A getter that evaluates `key` on first use. It stays a getter (the value
/// is cached in `LOADED`): replacing an accessor with a data property from
/// inside its own getter makes Boa 0.22 call the new value as the getter.
fn lazy(key: &'static str, cx: &mut Context) -> boa_engine::object::builtins::JsFunction {
    let native = NativeFunction::from_copy_closure(move |_, _, cx| library(key, cx));
    FunctionObjectBuilder::new(cx.realm(), native).name(js_string!(key)).length(0).build()
}

fn throwing(key: &'static str, cx: &mut Context) -> boa_engine::object::builtins::JsFunction {
    let native = NativeFunction::from_copy_closure(move |_, _, _| Err(absent(key).into()));
    FunctionObjectBuilder::new(cx.realm(), native).name(js_string!(key)).length(0).build()
}

/// The `libraries` object handed to the user's function.
pub(crate) fn object(cx: &mut Context) -> JsResult<JsObject> {
    let getters: Vec<_> = BUNDLED.iter().map(|(k, _)| (*k, lazy(k, cx))).collect();
    let missing: Vec<_> = NETWORK.iter().chain(NOT_BUNDLED).map(|k| (*k, throwing(k, cx))).collect();
    let fetch = FunctionObjectBuilder::new(cx.realm(), NativeFunction::from_fn_ptr(crate::web::fetch))
        .name(js_string!("fetch"))
        .length(2)
        .build();
    let crypto = cx.global_object().get(js_string!("crypto"), cx)?;
    let mut libraries = ObjectInitializer::new(cx);
    for (key, getter) in getters {
        libraries.accessor(js_string!(key), Some(getter), None, Attribute::ENUMERABLE | Attribute::CONFIGURABLE);
    }
    for (key, getter) in missing {
        libraries.accessor(js_string!(key), Some(getter), None, Attribute::CONFIGURABLE);
    }
    libraries.property(js_string!("fetch"), fetch, Attribute::all());
    libraries.property(js_string!("crypto"), crypto, Attribute::all());
    Ok(libraries.build())
}

/// Globals Node code expects: `require` (bundled libraries only), lazy
/// `Buffer` and `FormData`, and Node's functions on `crypto`.
pub(crate) fn install_globals(cx: &mut Context) -> JsResult<()> {
    let require = require_function("", cx);
    cx.register_global_property(js_string!("require"), require, Attribute::WRITABLE | Attribute::CONFIGURABLE)?;
    let global = cx.global_object();
    for key in ["Buffer", "FormData"] {
        let getter = lazy(key, cx);
        let accessor = PropertyDescriptor::builder().get(getter).enumerable(false).configurable(true);
        global.define_property_or_throw(js_string!(key), accessor, cx)?;
    }
    let crypto = global.get(js_string!("crypto"), cx)?;
    let crypto = crypto.as_object().ok_or_else(|| JsNativeError::error().with_message("crypto is missing"))?;
    for key in CRYPTO {
        let getter = lazy(key, cx);
        let accessor = PropertyDescriptor::builder().get(getter).enumerable(true).configurable(true);
        crypto.define_property_or_throw(js_string!(*key), accessor, cx)?;
    }
    Ok(())
}
