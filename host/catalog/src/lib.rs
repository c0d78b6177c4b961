//! What a provider is: the one model of a third-party API that Weft
//! connects accounts to and calls on their behalf.
//!
//! This crate owns [`Provider`] (auth schemes and their inputs, OAuth URLs,
//! scopes, client authentication, base URL, permitted hosts, rate limits,
//! the connection test), its published JSON Schema ([`schema`]), the loader
//! of declarative definition files in JSON or YAML ([`load`]), the
//! definitions Weft ships and the lookup by id ([`Catalog`], [`Providers`]),
//! a project's own definitions of `custom.<name>` integrations and what
//! they must also meet ([`check_custom`]: the egress policy's destinations),
//! `{config.x}` placeholders (and `{token.x}`, a base URL's origin from the
//! account's token answer), where a call made as a connection may go
//! ([`Endpoint`]), and the contract of such a call ([`ConnectionHttp`]).
//!
//! It does not own credentials (`weft-credentials`), plugins
//! (`weft-plugin-host`, whose metadata converts into a [`Provider`]) or the
//! network (`weft-egress`).
//!
//! ```
//! use weft_catalog::{Endpoint, Format};
//! let provider = weft_catalog::load::parse(
//!     "id: tasks\nname: Tasks\nbaseUrl: https://api.tasks.test/v1\nauth: {type: bearer}\n",
//!     Format::Yaml,
//!     "tasks.yaml",
//! )?;
//! let config = serde_json::Map::new();
//! let at = Endpoint { provider: &provider, base_override: None, config: &config };
//! assert_eq!(at.resolve("/lists?page=2")?.as_str(), "https://api.tasks.test/v1/lists?page=2");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod custom;
pub mod http;
pub mod load;
pub mod paging;
mod placeholders;
mod provider;
mod reference;
mod registry;
pub mod resource;
pub mod schema;
mod target;
pub mod webhooks;

pub use custom::{check_custom, check_outbound_url};
pub use http::{ConnectionError, ConnectionHttp, ConnectionRequest};
pub use load::{DefinitionError, Format, Problem};
pub use placeholders::{PlaceholderError, fill_placeholders};
pub use provider::{
    ApiKeyLocation, AuthScheme, AuthTemplate, BasicTemplate, ClientAuth, ClientSource, ConnectionTest, Provider,
    RateLimitRule, RateLimitScope, RefreshPolicy, valid_id,
};
pub use registry::{Catalog, Entry, Layered, Origin, Providers};
pub use target::{
    Endpoint, MAX_TARGET_LEN, MAX_URL_LEN, TOKEN_PLACEHOLDER, TargetError, check_length, display, host_matches,
    token_fields, token_setting,
};
pub use webhooks::{EventRouting, Handshake, SetupRequest, Verification, WebhookLevel, WebhookSetup, WebhookTrigger};
