//! The resolver the client connects through: every address a name resolves
//! to is checked against the [`EgressPolicy`] here, inside the connection
//! path, so the connection goes to an address that was checked (no DNS
//! rebinding between a check and a connect). One forbidden answer refuses
//! the whole name, and an empty answer fails closed.

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::policy::EgressPolicy;

/// A resolution the policy refused; the client reports it as `Denied`.
#[derive(Debug, thiserror::Error)]
#[error("egress policy: {0}")]
pub(crate) struct PolicyDenied(pub(crate) String);

/// Resolves with the system resolver, then applies the policy.
pub(crate) struct GuardedResolver {
    pub(crate) policy: Arc<EgressPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.is_empty() {
                return Err(Box::new(PolicyDenied(format!("{host} resolves to no address"))) as _);
            }
            for addr in &addrs {
                if let Err(refused) = policy.check(addr.ip(), Some(&host)) {
                    let why = format!("{host} resolves to {}: {refused}", addr.ip());
                    return Err(Box::new(PolicyDenied(why)) as _);
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}
