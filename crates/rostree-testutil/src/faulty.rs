//! A small HTTP/1.1 file server that misbehaves on purpose, for pull tests: it serves a
//! directory, and a plan decides, per request, whether to answer normally, with an error
//! status, with a corrupted body, by dropping the connection halfway through the body, or
//! by stalling after the headers. Range requests are honoured (`bytes=N-`), so resumption
//! can be tested. Standard library only; one thread per connection. Stops when dropped.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server does with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Serve the file.
    None,
    /// Answer with this status and no body.
    Status(u16),
    /// Send the headers and half the body, then close the connection.
    Drop,
    /// Serve the file with one byte changed.
    Corrupt,
    /// Send the headers, then nothing, for this long.
    Stall(Duration),
}

/// Decides the fault for a request: its path (without the leading `/`) and how many
/// requests for that path came before it.
pub type Plan = dyn Fn(&str, usize) -> Fault + Send + Sync;

/// The running server.
pub struct FaultyServer {
    port: u16,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Logged>>>,
}

/// One request as logged: the line [`FaultyServer::requests`] shows, and its User-Agent.
struct Logged {
    line: String,
    user_agent: Option<String>,
}

impl FaultyServer {
    /// Serves `root` on 127.0.0.1 following `plan`.
    pub fn start(root: &Path, plan: impl Fn(&str, usize) -> Fault + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1");
        let port = listener.local_addr().expect("address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let plan: Arc<Plan> = Arc::new(plan);
        let root = root.to_owned();
        {
            let (stop, log) = (Arc::clone(&stop), Arc::clone(&log));
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let (root, plan, log) = (root.clone(), Arc::clone(&plan), Arc::clone(&log));
                    std::thread::spawn(move || serve_connection(stream, &root, &*plan, &log));
                }
            });
        }
        FaultyServer { port, stop, log }
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Every request so far: `PATH`, then ` range=N-` for a range request, ` proxied` for
    /// one sent to it as a proxy, ` cookie=VALUE` when it carried cookies, and
    /// ` x-name=value` for each `X-` header.
    pub fn requests(&self) -> Vec<String> {
        self.log
            .lock()
            .map(|l| l.iter().map(|r| r.line.clone()).collect())
            .unwrap_or_default()
    }

    /// Every request's `User-Agent` header (empty when it sent none), in order.
    pub fn user_agents(&self) -> Vec<String> {
        self.log
            .lock()
            .map(|l| {
                l.iter()
                    .map(|r| r.user_agent.clone().unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for FaultyServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve_connection(stream: TcpStream, root: &Path, plan: &Plan, log: &Mutex<Vec<Logged>>) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut out = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        // HTTP/2 with prior knowledge: this server speaks HTTP/1.1 only, and says so by
        // closing the connection, as such servers do.
        if request_line.starts_with("PRI * HTTP/2.0") {
            return;
        }
        let mut range_start = None;
        let mut cookie = None;
        let mut user_agent = None;
        let mut extra_headers = Vec::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("range") {
                    range_start = value
                        .trim()
                        .strip_prefix("bytes=")
                        .and_then(|r| r.strip_suffix('-'))
                        .and_then(|n| n.parse::<usize>().ok());
                } else if name.eq_ignore_ascii_case("cookie") {
                    cookie = Some(value.trim().to_owned());
                } else if name.eq_ignore_ascii_case("user-agent") {
                    user_agent = Some(value.trim().to_owned());
                } else if name.to_ascii_lowercase().starts_with("x-") {
                    extra_headers.push(format!("{}={}", name.to_ascii_lowercase(), value.trim()));
                }
            }
        }
        let target = request_line.split_whitespace().nth(1).unwrap_or("/");
        // A proxy gets the absolute form (`http://host/path`): it serves the path all the
        // same, and says so in the log.
        let (proxied, target) = match target.strip_prefix("http://") {
            Some(rest) => (true, rest.find('/').map_or("/", |i| &rest[i..])),
            None => (false, target),
        };
        let path = target.trim_start_matches('/').to_owned();
        let seen = {
            let Ok(mut log) = log.lock() else { return };
            let seen = log
                .iter()
                .filter(|l| l.line.split(' ').next() == Some(&path))
                .count();
            let mut entry = path.clone();
            if let Some(n) = range_start {
                entry.push_str(&format!(" range={n}-"));
            }
            if proxied {
                entry.push_str(" proxied");
            }
            if let Some(cookie) = &cookie {
                entry.push_str(&format!(" cookie={cookie}"));
            }
            for header in &extra_headers {
                entry.push_str(&format!(" {header}"));
            }
            log.push(Logged {
                line: entry,
                user_agent,
            });
            seen
        };
        let file = safe_join(root, &path).and_then(|p| std::fs::read(p).ok());
        let fault = plan(&path, seen);
        let ok = match (file, fault) {
            (_, Fault::Status(code)) => respond(&mut out, code, &[], None),
            (None, _) => respond(&mut out, 404, &[], None),
            (Some(data), Fault::None) => respond_file(&mut out, &data, range_start),
            (Some(mut data), Fault::Corrupt) => {
                if let Some(b) = data.last_mut() {
                    *b ^= 0x55;
                }
                respond_file(&mut out, &data, range_start)
            }
            (Some(data), Fault::Drop) => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\n\r\n",
                    data.len()
                );
                let _ = out.write_all(head.as_bytes());
                let _ = out.write_all(&data[..data.len() / 2]);
                let _ = out.flush();
                let _ = out.shutdown(std::net::Shutdown::Both);
                return;
            }
            (Some(data), Fault::Stall(time)) => {
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", data.len());
                let _ = out.write_all(head.as_bytes());
                let _ = out.flush();
                std::thread::sleep(time);
                return;
            }
        };
        if !ok {
            return;
        }
    }
}

/// `root/rel`, unless `rel` could lead outside `root`.
fn safe_join(root: &Path, rel: &str) -> Option<PathBuf> {
    if rel
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return None;
    }
    Some(root.join(rel))
}

fn respond_file(out: &mut TcpStream, data: &[u8], range_start: Option<usize>) -> bool {
    match range_start {
        Some(start) if start < data.len() => {
            let range = format!("bytes {start}-{}/{}", data.len() - 1, data.len());
            respond(out, 206, &data[start..], Some(&range))
        }
        _ => respond(out, 200, data, None),
    }
}

fn respond(out: &mut TcpStream, code: u16, body: &[u8], content_range: Option<&str>) -> bool {
    let reason = match code {
        200 => "OK",
        206 => "Partial Content",
        404 => "Not Found",
        _ => "Error",
    };
    let mut head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\n",
        body.len()
    );
    if let Some(range) = content_range {
        head.push_str(&format!("Content-Range: {range}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes()).is_ok() && out.write_all(body).is_ok() && out.flush().is_ok()
}
