//! The resolver the client connects through: every address a name resolves
//! to is checked against the [`EgressPolicy`] here, inside the connection
//! path, so the connection goes to an address that was checked (no DNS
//! rebinding between a check and a connect). One forbidden answer refuses
//! the whole name, and an empty answer fails closed.

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

use crate::EgressError;
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

/// Resolves through `lookup`, then applies the policy.
pub(crate) struct GuardedResolver {
    pub(crate) policy: Arc<EgressPolicy>,
    pub(crate) lookup: Arc<dyn Lookup>,
}

impl GuardedResolver {
    /// The addresses to connect to for `host`, all of them permitted.
    pub(crate) async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, EgressError> {
        let addrs =
            self.lookup.lookup(host).await.map_err(|e| EgressError::Connection(format!("resolving {host}: {e}")))?;
        if addrs.is_empty() {
            return Err(EgressError::Denied(format!("{host} resolves to no address")));
        }
        for ip in &addrs {
            if let Err(refused) = self.policy.check(*ip, Some(host)) {
                return Err(EgressError::Denied(format!("{host} resolves to {ip}: {refused}")));
            }
        }
        Ok(addrs)
    }
}
