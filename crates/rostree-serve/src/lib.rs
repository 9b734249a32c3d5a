//! A static HTTP server for a repository directory (`rostree serve`): GET and HEAD, single
//! byte ranges, HTTP/1.1 and HTTP/2 without TLS (h2c) on one port.
//!
//! Paths are resolved below the served directory through a directory handle: `..`, `.` and
//! empty components are refused, and symlinks that lead out of it are not followed.

use std::convert::Infallible;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use cap_std::fs::Dir;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed while starting.
    #[error("{what}: {source}")]
    Io {
        /// What was being done (`binding 127.0.0.1:8080`, ...).
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// The server's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// A running server; stops when dropped.
pub struct Server {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// The address it listens on (with the port the system chose for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Serves until the process ends.
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts serving `root` on `addr` on a thread of its own.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::io::{Read, Write};
///
/// let tmp = tempfile::tempdir()?;
/// std::fs::write(tmp.path().join("config"), "[core]\nrepo_version=1\nmode=archive-z2\n")?;
/// let root = cap_std::fs::Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority())?;
/// let server = rostree_serve::serve(root, "127.0.0.1:0".parse()?)?;
///
/// let mut stream = std::net::TcpStream::connect(server.addr())?;
/// stream.write_all(b"GET /config HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
/// let mut reply = String::new();
/// stream.read_to_string(&mut reply)?;
/// assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
/// assert!(reply.ends_with("mode=archive-z2\n"));
/// drop(server); // stops it
/// # Ok(()) }
/// ```
pub fn serve(root: Dir, addr: SocketAddr) -> Result<Server> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| io_error("starting the server runtime", e))?;
    let listener = runtime
        .block_on(TcpListener::bind(addr))
        .map_err(|e| io_error(&format!("binding {addr}"), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| io_error("reading the bound address", e))?;
    let root = Arc::new(root);
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        runtime.block_on(async move {
            loop {
                tokio::select! {
                    _ = &mut rx => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let root = Arc::clone(&root);
                        tokio::spawn(async move {
                            let service = hyper::service::service_fn(move |req| {
                                let root = Arc::clone(&root);
                                async move { Ok::<_, Infallible>(respond(&root, &req).await) }
                            });
                            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                }
            }
        });
    });
    Ok(Server {
        addr,
        shutdown: Some(tx),
        thread: Some(thread),
    })
}

fn io_error(what: &str, e: std::io::Error) -> Error {
    Error::Io {
        what: what.to_owned(),
        source: e,
    }
}

fn status(code: StatusCode) -> Response<Reply> {
    let mut r = Response::new(Reply::Left(Full::new(Bytes::new())));
    *r.status_mut() = code;
    r
}

/// The path below the root, or `None` when it could lead anywhere else.
fn relative_path(uri_path: &str) -> Option<String> {
    let rel = uri_path.strip_prefix('/')?;
    let parts: Vec<&str> = rel.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == ".." || p.contains(['%', '\\', '\0']))
    {
        return None;
    }
    Some(parts.join("/"))
}

/// An inclusive byte range.
type ByteRange = (u64, u64);

/// A single `bytes=` range over a file of `len` bytes: `Ok(None)` for none or one the
/// server may ignore, `Err(())` when it cannot be satisfied.
fn parse_range(header: &str, len: u64) -> std::result::Result<Option<ByteRange>, ()> {
    let Some(spec) = header.strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        // Multiple ranges: serving the whole file is allowed.
        return Ok(None);
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let range = match (start.parse::<u64>().ok(), end.parse::<u64>().ok()) {
        (Some(s), Some(e)) if s <= e => (s, e.min(len.saturating_sub(1))),
        (Some(s), None) if end.is_empty() => (s, len.saturating_sub(1)),
        (None, Some(n)) if start.is_empty() && n > 0 => {
            (len.saturating_sub(n), len.saturating_sub(1))
        }
        _ => return Ok(None),
    };
    if len == 0 || range.0 >= len {
        return Err(());
    }
    Ok(Some(range))
}

/// A response body: small files from memory, large ones read as they are sent.
type Reply = Either<Full<Bytes>, FileBody>;

/// Files up to this size are read whole to be sent.
const SEND_AT_ONCE: u64 = 1 << 20;

/// What a request gets of a file.
enum Content {
    Bytes(Vec<u8>),
    /// `left` bytes of the file, from its position.
    File {
        file: cap_std::fs::File,
        left: u64,
    },
}

/// A body fed by a thread that reads the file in chunks, a few ahead of the connection.
struct FileBody {
    chunks: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
}

impl FileBody {
    fn start(mut file: cap_std::fs::File, mut left: u64) -> FileBody {
        let (tx, chunks) = tokio::sync::mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            while left > 0 {
                let mut chunk = vec![0u8; (256 << 10).min(left as usize)];
                let sent = match file.read(&mut chunk) {
                    Ok(0) => tx.blocking_send(Err(std::io::ErrorKind::UnexpectedEof.into())),
                    Ok(n) => {
                        chunk.truncate(n);
                        left -= n as u64;
                        tx.blocking_send(Ok(Bytes::from(chunk)))
                    }
                    Err(e) => tx.blocking_send(Err(e)),
                };
                // The client went away, or the file failed.
                if sent.is_err() {
                    return;
                }
            }
        });
        FileBody { chunks }
    }
}

impl hyper::body::Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<std::result::Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        self.chunks
            .poll_recv(cx)
            .map(|chunk| chunk.map(|r| r.map(hyper::body::Frame::data)))
    }
}

/// A file found for a request.
struct Found {
    /// What to send (nothing for HEAD or an unsatisfiable range).
    content: Content,
    /// The whole file's length.
    len: u64,
    /// The part sent, when a range was asked.
    range: Option<ByteRange>,
    /// False when the range asked lies past the end.
    satisfiable: bool,
}

/// Reads what a request asks of `rel`; `None` when it is not a regular file.
fn read_file(
    root: &Dir,
    rel: &str,
    range: Option<&str>,
    head: bool,
) -> std::io::Result<Option<Found>> {
    let mut file = match root.open(rel) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(None);
    }
    let len = meta.len();
    let (wanted, satisfiable) = match range.map(|r| parse_range(r, len)) {
        Some(Ok(r)) => (r, true),
        Some(Err(())) => (None, false),
        None => (None, true),
    };
    let (start, count) = match wanted {
        Some((start, end)) => (start, end - start + 1),
        None => (0, len),
    };
    let content = if head || !satisfiable {
        Content::Bytes(Vec::new())
    } else {
        if start > 0 {
            use std::io::Seek;
            file.seek(std::io::SeekFrom::Start(start))?;
        }
        if count <= SEND_AT_ONCE {
            let mut data = Vec::new();
            (&mut file).take(count).read_to_end(&mut data)?;
            Content::Bytes(data)
        } else {
            Content::File { file, left: count }
        }
    };
    Ok(Some(Found {
        content,
        len,
        range: wanted,
        satisfiable,
    }))
}

async fn respond(root: &Arc<Dir>, req: &Request<Incoming>) -> Response<Reply> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return status(StatusCode::METHOD_NOT_ALLOWED);
    }
    let Some(rel) = relative_path(req.uri().path()) else {
        return status(StatusCode::NOT_FOUND);
    };
    let root = Arc::clone(root);
    let range = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let head = req.method() == Method::HEAD;
    let read =
        tokio::task::spawn_blocking(move || read_file(&root, &rel, range.as_deref(), head)).await;
    let Found {
        content,
        len,
        range: wanted,
        satisfiable,
    } = match read {
        Ok(Ok(Some(found))) => found,
        Ok(Ok(None)) => return status(StatusCode::NOT_FOUND),
        _ => return status(StatusCode::INTERNAL_SERVER_ERROR),
    };
    if !satisfiable {
        let mut r = status(StatusCode::RANGE_NOT_SATISFIABLE);
        if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
            r.headers_mut().insert(header::CONTENT_RANGE, v);
        }
        return r;
    }
    let shown_len = match wanted {
        Some((start, end)) => end - start + 1,
        None => len,
    };
    let body = match content {
        Content::Bytes(data) => Either::Left(Full::new(Bytes::from(data))),
        Content::File { file, left } => Either::Right(FileBody::start(file, left)),
    };
    let mut r = Response::new(body);
    let headers = r.headers_mut();
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&shown_len.to_string()) {
        headers.insert(header::CONTENT_LENGTH, v);
    }
    if let Some((start, end)) = wanted {
        *r.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
            r.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside() {
        assert_eq!(
            relative_path("/objects/ab/cd.commit").as_deref(),
            Some("objects/ab/cd.commit")
        );
        for bad in [
            "/../etc/passwd",
            "/a/../b",
            "/./a",
            "//a",
            "/a/",
            "relative",
            "/a%2f..",
            "/",
        ] {
            assert_eq!(relative_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn ranges() {
        type Case<'a> = (&'a str, u64, std::result::Result<Option<ByteRange>, ()>);
        let cases: &[Case] = &[
            ("bytes=0-9", 100, Ok(Some((0, 9)))),
            ("bytes=90-", 100, Ok(Some((90, 99)))),
            ("bytes=-10", 100, Ok(Some((90, 99)))),
            ("bytes=50-500", 100, Ok(Some((50, 99)))),
            ("bytes=100-", 100, Err(())),
            ("bytes=0-1,5-6", 100, Ok(None)),
            ("items=0-1", 100, Ok(None)),
            ("bytes=9-1", 100, Ok(None)),
        ];
        for (header, len, want) in cases {
            assert_eq!(parse_range(header, *len), *want, "{header}");
        }
    }
}
