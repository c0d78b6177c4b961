//! The peer: a plain nginx reverse proxy in front of the mock provider,
//! installed from the Debian packages when absent and run in the foreground
//! as a child, with its configuration, pid and logs in a temporary directory.

use super::processes::{ChildProcess, wait_for_port};
use anyhow::Context;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Where Debian's packages put the binary.
const NGINX: &str = "/usr/sbin/nginx";

/// A running nginx and the directory it runs in (removed after it stops).
pub struct Nginx {
    /// Where it listens.
    pub addr: SocketAddr,
    // Field order is drop order: the process stops before its files go.
    _process: ChildProcess,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx proxying every request to `upstream`.
    pub fn start(upstream: SocketAddr) -> anyhow::Result<Self> {
        let binary = ensure_installed()?;
        let dir = tempfile::tempdir().context("creating nginx's directory")?;
        let addr = free_port()?;
        std::fs::write(dir.path().join("nginx.conf"), config(dir.path(), addr, upstream))?;
        let prefix = format!("{}/", dir.path().display());
        let conf = dir.path().join("nginx.conf");
        let error_log = dir.path().join("error.log");
        let mut command = Command::new(&binary);
        command
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(&conf)
            // Also the log of start-up, before the configuration is read.
            .arg("-e")
            .arg(&error_log)
            .args(["-g", "daemon off;"]);
        let (mut process, _) = ChildProcess::start("nginx", &mut command, 0, Duration::ZERO)?;
        if let Err(e) = wait_for_port(addr, Duration::from_secs(10)).and_then(|()| process.ensure_running()) {
            let log = std::fs::read_to_string(&error_log).unwrap_or_default();
            anyhow::bail!("nginx did not start: {e}\n{log}");
        }
        Ok(Self { addr, _process: process, _dir: dir })
    }
}

/// The configuration: one upstream with a keep-alive pool, nothing else.
///
/// `worker_processes auto` (two on the benchmark machine) because Weft's
/// runtime, like `weft serve`, also uses every core; one worker would cap
/// nginx at a core and flatter Weft. `keepalive_requests` is raised on both
/// sides because its default (1000) would close each connection every 1000
/// requests, which neither Weft nor the mock does.
fn config(dir: &Path, listen: SocketAddr, upstream: SocketAddr) -> String {
    let d = dir.display();
    format!(
        "worker_processes auto;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_requests 1000000;
    upstream mock {{
        server {upstream};
        keepalive 64;
        keepalive_requests 1000000;
    }}
    server {{
        listen {listen};
        location / {{
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }}
    }}
}}
"
    )
}

/// A loopback port free right now (nginx binds it a moment later).
fn free_port() -> anyhow::Result<SocketAddr> {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(probe.local_addr()?)
}

/// The nginx binary, installed with apt-get when absent (`nginx-light`, or
/// `nginx` where that package no longer exists). Where an init system runs,
/// the package also starts its own service on port 80; it is not used here.
fn ensure_installed() -> anyhow::Result<PathBuf> {
    if Path::new(NGINX).is_file() {
        return Ok(NGINX.into());
    }
    eprintln!("nginx is not installed; installing it with apt-get");
    let install = |package: &str| {
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends", package])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    let installed = install("nginx-light")
        || install("nginx")
        || (Command::new("apt-get").args(["update", "-q"]).status().is_ok_and(|s| s.success())
            && (install("nginx-light") || install("nginx")));
    anyhow::ensure!(
        installed && Path::new(NGINX).is_file(),
        "could not install nginx with apt-get (root needed); install `nginx-light` or `nginx` and run again"
    );
    Ok(NGINX.into())
}
