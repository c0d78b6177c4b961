//! Signature checks over the host's `webhook-crypto` import, so signing
//! secrets never enter guest memory.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::bindings::imports::webhook_crypto as wit;

/// HMAC hash function; (de)serializes as `"sha1"`, `"sha256"`, `"sha512"`.
///
/// ```no_run
/// use weft_sdk::webhook::{verify_hmac, Encoding, HmacAlgorithm};
/// # let (body, sig) = (b"{}", "00");
/// let ok = verify_hmac("signing_secret", HmacAlgorithm::Sha1, body, sig, Encoding::Hex);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(description = "HMAC hash function.")]
pub enum HmacAlgorithm {
    /// HMAC-SHA1 (legacy providers only).
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

/// How a signature is encoded; (de)serializes as `"hex"` or `"base64"`.
///
/// ```no_run
/// use weft_sdk::webhook::{verify_hmac, Encoding, HmacAlgorithm};
/// # let (body, sig) = (b"{}", "AA==");
/// let ok = verify_hmac("shopify_secret", HmacAlgorithm::Sha256, body, sig, Encoding::Base64);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(description = "How a signature is encoded.")]
pub enum Encoding {
    /// Hexadecimal, either case.
    Hex,
    /// Standard base64.
    Base64,
}

/// Asks the host to compute HMAC(secret `secret_name`, `message`) and compare
/// it with `signature` in constant time.
///
/// False for a mismatch, an undeclared or unknown secret, or a signature that
/// does not decode. `secret_name` must be listed in
/// [`Metadata::secrets`](crate::Metadata::secrets).
///
/// ```no_run
/// use weft_sdk::webhook::{verify_hmac, Encoding, HmacAlgorithm};
/// # fn f(req: &weft_sdk::WebhookRequest) {
/// let signature = req.header("x-signature").unwrap_or_default();
/// let authentic =
///     verify_hmac("webhook_secret", HmacAlgorithm::Sha256, &req.body, signature, Encoding::Hex);
/// # }
/// ```
pub fn verify_hmac(
    secret_name: &str,
    algorithm: HmacAlgorithm,
    message: &[u8],
    signature: &str,
    encoding: Encoding,
) -> bool {
    let algorithm = match algorithm {
        HmacAlgorithm::Sha1 => wit::HmacAlgorithm::Sha1,
        HmacAlgorithm::Sha256 => wit::HmacAlgorithm::Sha256,
        HmacAlgorithm::Sha512 => wit::HmacAlgorithm::Sha512,
    };
    let encoding = match encoding {
        Encoding::Hex => wit::Encoding::Hex,
        Encoding::Base64 => wit::Encoding::Base64,
    };
    wit::verify_hmac(secret_name, algorithm, message, signature, encoding)
}

/// Checks a GitHub `X-Hub-Signature-256` header (`sha256=<hex>`) against the
/// raw body. A header without the `sha256=` prefix is rejected.
///
/// ```no_run
/// use weft_sdk::webhook::verify_github_sha256;
/// # fn f(req: &weft_sdk::WebhookRequest) -> bool {
/// verify_github_sha256(
///     "webhook_secret",
///     &req.body,
///     req.header("x-hub-signature-256").unwrap_or_default(),
/// )
/// # }
/// ```
pub fn verify_github_sha256(secret_name: &str, body: &[u8], signature_header: &str) -> bool {
    match signature_header.trim().strip_prefix("sha256=") {
        Some(hex) => verify_hmac(secret_name, HmacAlgorithm::Sha256, body, hex, Encoding::Hex),
        None => false,
    }
}

/// Checks a Slack `X-Slack-Signature` header (`v0=<hex>`): the HMAC-SHA256
/// of `v0:<timestamp>:<body>`, with `timestamp` from
/// `X-Slack-Request-Timestamp`.
///
/// This checks the signature only. Slack also asks receivers to refuse
/// timestamps more than five minutes from now, to stop replays: compare
/// `timestamp` with [`WebhookRequest::received_at_ms`](crate::WebhookRequest::received_at_ms).
///
/// ```no_run
/// use weft_sdk::webhook::verify_slack_v0;
/// # fn f(req: &weft_sdk::WebhookRequest) -> bool {
/// let ts = req.header("x-slack-request-timestamp").unwrap_or_default();
/// let fresh = ts
///     .parse::<u64>()
///     .is_ok_and(|s| (req.received_at_ms / 1000).abs_diff(s) <= 300);
/// fresh
///     && verify_slack_v0(
///         "signing_secret",
///         ts,
///         &req.body,
///         req.header("x-slack-signature").unwrap_or_default(),
///     )
/// # }
/// ```
pub fn verify_slack_v0(secret_name: &str, timestamp: &str, body: &[u8], signature_header: &str) -> bool {
    let Some(hex) = signature_header.trim().strip_prefix("v0=") else {
        return false;
    };
    let mut message = Vec::with_capacity(4 + timestamp.len() + body.len());
    message.extend_from_slice(b"v0:");
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b':');
    message.extend_from_slice(body);
    verify_hmac(secret_name, HmacAlgorithm::Sha256, &message, hex, Encoding::Hex)
}
