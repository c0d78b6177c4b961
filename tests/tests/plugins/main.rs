//! Tests that load the real plugin components of `plugins/`: capability
//! tests of every host import, sandbox tests, install-time refusals.
//!
//! `readme` checks the plugin walkthrough (docs/writing-a-plugin.md) against `hello`.
//!
//! Every plugin crate must have a module here named after it; the build
//! fails otherwise.

mod example_step;
mod github;
mod google_calendar;
mod hello;
mod hubspot;
mod js_function;
mod notion;
mod readme;
mod salesforce;
mod slack;
mod test_apikey;
mod test_client_credentials;
mod test_custom_refresh;
mod test_echo;
mod test_fs_import;
mod test_future_api;
mod test_hostile;
mod test_oauth;
mod test_proxy;
mod test_query_key;
mod test_socket_import;

macro_rules! assert_test_exists {
    ($name:ident) => {
        #[allow(unused_imports)]
        use self::$name as _;
    };
}
weft_tests::foreach_plugin!(assert_test_exists);
