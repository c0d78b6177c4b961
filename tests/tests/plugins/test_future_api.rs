//! A component built against an API version this host does not serve is
//! refused, naming both versions.

use weft_plugin_host::{HOST_API_VERSION, InstallError};
use weft_tests::{TestHost, plugin_path};

#[tokio::test]
async fn unsupported_api_version_is_refused_naming_both_versions() {
    let t = TestHost::new();
    let err = t.host.install_file(&plugin_path("test_future_api")).await.unwrap_err();
    assert!(
        matches!(&err, InstallError::UnsupportedApiVersion { plugin, host } if plugin == "9.0.0" && host == HOST_API_VERSION),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("9.0.0") && msg.contains(HOST_API_VERSION), "{msg}");
    assert!(t.host.list().is_empty());
}
