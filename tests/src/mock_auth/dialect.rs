//! Token answers as a provider documents them: the mock's RFC 6749 answer
//! reshaped (Slack's `"token_type": "bot"` and `team`, Notion's workspace
//! fields, Salesforce's `instance_url`, ...), refusals in the provider's
//! form (Slack refuses with 200 and `"ok": false`), and the body format
//! its token endpoint takes (Notion's is JSON).

use std::sync::Arc;

use serde_json::Value;

use super::Shared;

/// Reshapes a successful token answer: `(standard answer, account) → answer`.
pub type Answer = Arc<dyn Fn(Value, &str) -> Value + Send + Sync>;
/// Reshapes a refusal: `(OAuth error code, status) → (status, body)`.
pub type Refusal = Arc<dyn Fn(&str, u16) -> (u16, Value) + Send + Sync>;

/// How one provider's token endpoint speaks; [`TokenDialect::default`] is
/// plain RFC 6749.
#[derive(Clone, Default)]
pub struct TokenDialect {
    /// Token requests must be JSON objects instead of forms.
    pub json_body: bool,
    /// Reshapes successful answers.
    pub answer: Option<Answer>,
    /// Reshapes refusals.
    pub refusal: Option<Refusal>,
}

impl TokenDialect {
    /// A dialect that reshapes answers with `answer`.
    pub fn answering(answer: impl Fn(Value, &str) -> Value + Send + Sync + 'static) -> Self {
        Self { answer: Some(Arc::new(answer)), ..Self::default() }
    }

    /// Also reshapes refusals with `refusal`.
    pub fn refusing(mut self, refusal: impl Fn(&str, u16) -> (u16, Value) + Send + Sync + 'static) -> Self {
        self.refusal = Some(Arc::new(refusal));
        self
    }

    /// Requires JSON token requests.
    pub fn json_requests(mut self) -> Self {
        self.json_body = true;
        self
    }
}

/// Who an access token the mock issued acts for: what provider mocks on
/// other ports ask to authenticate their API calls.
#[derive(Clone)]
pub struct TokenCheck(pub(super) Shared);

impl TokenCheck {
    /// The account of a currently valid access token.
    pub fn account(&self, access_token: &str) -> Option<String> {
        let st = self.0.lock().unwrap_or_else(|p| p.into_inner());
        st.valid_access(access_token).map(|f| f.account.clone())
    }
}
