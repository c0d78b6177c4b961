//! A component importing the WASI sockets is refused at install.

use weft_plugin_host::InstallError;
use weft_tests::{TestHost, plugin_path};

#[tokio::test]
async fn socket_import_is_refused_with_a_clear_message() {
    let t = TestHost::new();
    let err = t.host.install_file(&plugin_path("test_socket_import")).await.unwrap_err();
    let InstallError::ForbiddenImport { import, .. } = &err else { panic!("expected ForbiddenImport, got {err:?}") };
    assert!(import.starts_with("wasi:sockets/"), "{import}");
    let msg = err.to_string();
    assert!(msg.contains(import.as_str()) && msg.contains("may not open sockets"), "{msg}");
    assert!(t.host.list().is_empty(), "a refused plugin must not be installed");
}
