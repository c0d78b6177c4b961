//! The resolver the client connects through: every address a name resolves
//! to is checked against the [`EgressPolicy`] here, inside the connection
//! path, so the connection goes to an address that was checked (no DNS
//! rebinding between a check and a connect). One forbidden answer refuses
//! the whole name, and an empty answer fails closed.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::policy::EgressPolicy;

/// Where names get their addresses: the system resolver by default; tests
/// substitute their own answers (a name that resolves to a forbidden
/// address, a rebinding sequence) without touching `/etc/hosts`.
pub trait Lookup: Send + Sync + 'static {
    /// The addresses of `host`, in preference order.
    fn lookup(&self, host: &str) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + '_>>;
}

/// The system resolver (`getaddrinfo` on a blocking thread).
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: &str) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + '_>> {
        let host = host.to_owned();
        Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), 0)).await?.map(|a| a.ip()).collect()) })
    }
}

/// A resolution the policy refused; the client reports it as `Denied`.
#[derive(Debug, thiserror::Error)]
#[error("egress policy: {0}")]
pub(crate) struct PolicyDenied(pub(crate) String);

/// Resolves through `lookup`, then applies the policy.
pub(crate) struct GuardedResolver {
    pub(crate) policy: Arc<EgressPolicy>,
    pub(crate) lookup: Arc<dyn Lookup>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let (policy, lookup) = (self.policy.clone(), self.lookup.clone());
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs = lookup.lookup(&host).await?;
            if addrs.is_empty() {
                return Err(Box::new(PolicyDenied(format!("{host} resolves to no address"))) as _);
            }
            for ip in &addrs {
                if let Err(refused) = policy.check(*ip, Some(&host)) {
                    let why = format!("{host} resolves to {ip}: {refused}");
                    return Err(Box::new(PolicyDenied(why)) as _);
                }
            }
            Ok(Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0))) as Addrs)
        })
    }
}
