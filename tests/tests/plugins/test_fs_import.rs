//! A component importing the WASI filesystem is refused at install.

use weft_plugin_host::InstallError;
use weft_tests::{TestHost, plugin_path};

#[tokio::test]
async fn filesystem_import_is_refused_with_a_clear_message() {
    let t = TestHost::new();
    let err = t.host.install_file(&plugin_path("test_fs_import")).await.unwrap_err();
    let InstallError::ForbiddenImport { import, .. } = &err else { panic!("expected ForbiddenImport, got {err:?}") };
    assert!(import.starts_with("wasi:filesystem/"), "{import}");
    let msg = err.to_string();
    assert!(msg.contains("wasi:filesystem") && msg.contains("may not use the filesystem"), "{msg}");
    assert!(t.host.list().is_empty(), "a refused plugin must not be installed");
}
