//! HTTP servers for pull tests: nginx (Debian's package) serving a directory on 127.0.0.1,
//! and `rostree serve` run as a command. Both stop when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (free when asked; the server binds it right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding a port on 127.0.0.1")
}

/// Waits until something accepts connections on `port`.
fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// nginx serving a directory.
pub struct Nginx {
    child: Child,
    port: u16,
    _scratch: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx serving `root` (static files, as a plain web server would).
    pub fn start(root: &Path) -> Nginx {
        Nginx::start_with(root, "", "")
    }

    /// Like [`Nginx::start`], with `listen_extra` after the listen address (`ssl`) and
    /// `server_extra` directives in the server block (certificates, `auth_basic`, ...).
    pub fn start_with(root: &Path, listen_extra: &str, server_extra: &str) -> Nginx {
        let scratch = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let s = |p: &Path| p.display().to_string();
        // One process, no master: killing it leaves no orphaned worker behind (a worker
        // outlives a killed master, keeping its port and every descriptor it inherited).
        let conf = format!(
            "master_process off;\ndaemon off;\npid {dir}/nginx.pid;\n\
             error_log {dir}/error.log;\nevents {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {dir}/body;\n\
             proxy_temp_path {dir}/proxy;\n  fastcgi_temp_path {dir}/fastcgi;\n\
             uwsgi_temp_path {dir}/uwsgi;\n  scgi_temp_path {dir}/scgi;\n\
             server {{\n    listen 127.0.0.1:{port} {listen_extra};\n    root {root};\n\
             {server_extra}\n  }}\n}}\n",
            dir = s(scratch.path()),
            root = s(root),
        );
        let conf_path = scratch.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("nginx.conf");
        let child = Command::new(nginx_binary())
            .args(["-p", &s(scratch.path()), "-c", &s(&conf_path)])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nginx (apt-get install nginx)");
        wait_for_port(port, "nginx");
        Nginx {
            child,
            port,
            _scratch: scratch,
        }
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// `https://127.0.0.1:PORT/` (for a server started with `ssl`).
    pub fn https_url(&self) -> String {
        format!("https://127.0.0.1:{}/", self.port)
    }
}

/// A test PKI made with the `openssl` command: a CA, a server certificate for 127.0.0.1 and
/// a client certificate, both signed by the CA. Files (PEM) in `dir`: `ca.pem`,
/// `server.pem`, `server.key`, `client.pem`, `client.key`.
pub fn make_pki(dir: &Path) {
    std::fs::create_dir_all(dir).expect("pki dir");
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("running openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=rostree test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\n").expect("ext");
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").expect("ext");
    for who in ["server", "client"] {
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            &format!("/CN=rostree {who}"),
            "-keyout",
            &format!("{who}.key"),
            "-out",
            &format!("{who}.csr"),
        ]);
        run(&[
            "x509",
            "-req",
            "-in",
            &format!("{who}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &format!("{who}.ext"),
            "-out",
            &format!("{who}.pem"),
        ]);
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nginx_binary() -> PathBuf {
    for candidate in ["/usr/sbin/nginx", "/usr/bin/nginx"] {
        if Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    PathBuf::from("nginx")
}

/// `rostree serve` running as a command.
pub struct RostreeServe {
    child: Child,
    url: String,
}

impl RostreeServe {
    /// Runs `BIN serve --port=0 DIR` and reads the URL it prints.
    pub fn start(bin: &Path, dir: &Path) -> RostreeServe {
        let mut child = Command::new(bin)
            .args(["serve", "--port=0"])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting rostree serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("reading rostree serve's first line");
        let url = line
            .split_whitespace()
            .last()
            .filter(|u| u.starts_with("http://"))
            .unwrap_or_else(|| panic!("rostree serve printed {line:?}"))
            .to_owned();
        RostreeServe { child, url }
    }

    /// The URL it serves on.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for RostreeServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
