//! Fetching files of a remote repository by their relative path, over HTTP(S) or from a
//! local directory (`file://`).
//!
//! Over HTTP, `http://` URLs first try HTTP/2 without TLS (h2c, prior knowledge), which
//! multiplexes every request over one connection; a server that does not speak it (nginx
//! by default) gets HTTP/1.1 over a pool of connections instead. `https://` negotiates
//! HTTP/2 with ALPN. Connection errors, timeouts and 5xx answers are retried with back-off;
//! a read that makes no progress for `stall_timeout` fails.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;

use crate::body::{Body, Held, Sink, Spill};
use crate::error::{Error, Result};

/// How [`Fetcher`] behaves.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// Attempts after the first for a request that failed in a way that may pass.
    pub retries: u32,
    /// How long a response may make no progress before it fails.
    pub stall_timeout: Duration,
    /// Extra request headers (`--http-header`).
    pub headers: Vec<(String, String)>,
    /// Try HTTP/2 (`http2=false` in the remote config turns it off).
    pub http2: bool,
    /// Accept any server certificate (`tls-permissive`).
    pub tls_permissive: bool,
    /// Trust only the CA certificates in this PEM file (`tls-ca-path`).
    pub tls_ca_path: Option<PathBuf>,
    /// Present this certificate and key (PEM) to the server (`tls-client-cert-path`,
    /// `tls-client-key-path`).
    pub tls_client_cert: Option<(PathBuf, PathBuf)>,
    /// Send every request through this proxy (`proxy`).
    pub proxy: Option<String>,
    /// The `Cookie` header value to send (the remote's jar).
    pub cookie: Option<String>,
    /// Appended to the `User-Agent` (`append-user-agent`).
    pub user_agent_suffix: Option<String>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            retries: 5,
            stall_timeout: Duration::from_secs(30),
            headers: Vec::new(),
            http2: true,
            tls_permissive: false,
            tls_ca_path: None,
            tls_client_cert: None,
            proxy: None,
            cookie: None,
            user_agent_suffix: None,
        }
    }
}

/// The answer to a request made with the validators of a copy already held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conditional {
    /// The server says the held copy is current (HTTP 304).
    Unchanged,
    /// The remote has no such file.
    Missing,
    /// The file, with the validators to send next time.
    Fetched {
        /// Its bytes.
        data: Bytes,
        /// The ETag the server sent.
        etag: Option<String>,
        /// The Last-Modified time the server sent (Unix seconds), 0 when none.
        last_modified: u64,
    },
}

/// Validators of a held copy: its ETag and Last-Modified time (0 for none).
#[derive(Debug, Clone, Copy, Default)]
pub struct Validators<'a> {
    /// Sent as `If-None-Match`.
    pub etag: Option<&'a str>,
    /// Sent as `If-Modified-Since` when not 0.
    pub last_modified: u64,
}

/// The HTTP clients of a remote: h2c (plain HTTP/2) where it may be tried, and HTTP/1.1 (or
/// HTTP/2 over TLS), with the choice made by the first request.
struct Clients {
    h2c: Option<reqwest::Client>,
    http1: reqwest::Client,
    protocol: OnceLock<Protocol>,
}

/// The protocol chosen for a plain-HTTP server, once known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    H2c,
    Http1,
}

enum Kind {
    Http {
        /// The repository's URL and its mirrors, tried in turn; each ends with `/`.
        bases: Vec<String>,
        clients: Clients,
    },
    File {
        root: PathBuf,
    },
}

/// Reads files of one remote repository.
pub struct Fetcher {
    kind: Kind,
    options: FetchOptions,
    /// Bytes of bodies received, for the pull's "transferred" figure.
    received: AtomicU64,
}

impl Fetcher {
    /// A fetcher for the repository at `url` (`http://`, `https://` or `file://`).
    pub fn new(url: &str, options: FetchOptions) -> Result<Fetcher> {
        Fetcher::with_mirrors(&[url.to_owned()], options)
    }

    /// A fetcher for a repository served at each of `urls` (a mirror list's): every file
    /// is asked of them in turn, the next one tried when one fails or lacks it, as
    /// upstream's mirrored requests do. A `file://` URL must stand alone.
    pub fn with_mirrors(urls: &[String], options: FetchOptions) -> Result<Fetcher> {
        let url = urls.first().map(String::as_str).unwrap_or_default();
        let invalid = |reason: &str| Error::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        if urls.is_empty() {
            return Err(invalid("no URL to fetch from"));
        }
        if let Some(path) = url.strip_prefix("file://") {
            if urls.len() > 1 {
                return Err(invalid("a file:// URL cannot be one of several mirrors"));
            }
            if !path.starts_with('/') {
                return Err(invalid("a file:// URL needs an absolute path"));
            }
            return Ok(Fetcher {
                kind: Kind::File {
                    root: PathBuf::from(path),
                },
                options,
                received: AtomicU64::new(0),
            });
        }
        for url in urls {
            if !url.starts_with("https://") && !url.starts_with("http://") {
                return Err(Error::UnsupportedScheme { url: url.clone() });
            }
        }
        let https = urls.iter().any(|u| u.starts_with("https://"));
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &options.headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| invalid(&format!("header {name}: {e}")))?;
            let value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|e| invalid(&format!("header value {value:?}: {e}")))?;
            headers.insert(name, value);
        }
        if let Some(cookie) = &options.cookie {
            let value = reqwest::header::HeaderValue::from_str(cookie)
                .map_err(|e| invalid(&format!("cookie {cookie:?}: {e}")))?;
            headers.insert(reqwest::header::COOKIE, value);
        }
        let read = |path: &PathBuf| {
            std::fs::read(path).map_err(|e| Error::Io {
                path: path.display().to_string(),
                source: e,
            })
        };
        let ca = match &options.tls_ca_path {
            Some(path) => Some(
                reqwest::Certificate::from_pem_bundle(&read(path)?)
                    .map_err(|e| invalid(&format!("tls-ca-path {}: {e}", path.display())))?,
            ),
            None => None,
        };
        let identity = match &options.tls_client_cert {
            Some((cert, key)) => {
                let mut pem = read(cert)?;
                pem.push(b'\n');
                pem.extend(read(key)?);
                Some(reqwest::Identity::from_pem(&pem).map_err(|e| {
                    invalid(&format!("tls-client-cert-path {}: {e}", cert.display()))
                })?)
            }
            None => None,
        };
        let proxy = match &options.proxy {
            Some(p) => {
                Some(reqwest::Proxy::all(p).map_err(|e| invalid(&format!("proxy {p}: {e}")))?)
            }
            None => None,
        };
        // Upstream's product token, so servers that decide by it treat us as the version of
        // libostree whose protocol we speak.
        let mut user_agent = format!("libostree/{}", rostree_core::UPSTREAM_COMPAT_VERSION);
        if let Some(suffix) = &options.user_agent_suffix {
            user_agent.push(' ');
            user_agent.push_str(suffix);
        }
        let builder = || {
            let mut b = reqwest::Client::builder()
                .user_agent(user_agent.clone())
                .default_headers(headers.clone())
                .connect_timeout(Duration::from_secs(30))
                .read_timeout(options.stall_timeout)
                .pool_max_idle_per_host(256)
                .danger_accept_invalid_certs(options.tls_permissive);
            if let Some(certs) = &ca {
                // Pinned: only these CAs, not the system's.
                b = b.tls_built_in_root_certs(false);
                for cert in certs {
                    b = b.add_root_certificate(cert.clone());
                }
            }
            if let Some(identity) = &identity {
                b = b.identity(identity.clone());
            }
            b = match &proxy {
                Some(proxy) => b.proxy(proxy.clone()),
                // The environment's proxy variables apply only when the remote sets none,
                // as with upstream's curl backend.
                None => b,
            };
            b
        };
        let build = |b: reqwest::ClientBuilder| b.build().map_err(|e| invalid(&e.to_string()));
        let http1 = if options.http2 && https {
            build(builder())?
        } else {
            build(builder().http1_only())?
        };
        // h2c cannot go through an HTTP proxy.
        let h2c = if options.http2 && !https && options.proxy.is_none() {
            Some(build(builder().http2_prior_knowledge())?)
        } else {
            None
        };
        let bases = urls
            .iter()
            .map(|u| {
                let mut base = u.clone();
                if !base.ends_with('/') {
                    base.push('/');
                }
                base
            })
            .collect();
        Ok(Fetcher {
            kind: Kind::Http {
                bases,
                clients: Clients {
                    h2c,
                    http1,
                    protocol: OnceLock::new(),
                },
            },
            options,
            received: AtomicU64::new(0),
        })
    }

    /// Bytes of file bodies received so far (retried ones included, as on the wire).
    pub fn bytes_transferred(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// The directory of a local remote (`file://`).
    pub fn local_root(&self) -> Option<&std::path::Path> {
        match &self.kind {
            Kind::File { root } => Some(root),
            Kind::Http { .. } => None,
        }
    }

    /// Whether the remote is a local directory (`file://`), which nothing caches.
    pub fn is_local(&self) -> bool {
        matches!(self.kind, Kind::File { .. })
    }

    /// The file at `rel` (relative to the repository), or `None` if the remote has none.
    /// More than `max_size` allows is refused.
    pub async fn get(&self, rel: &str) -> Result<Option<Bytes>> {
        Ok(
            match self.get_if_changed(rel, Validators::default()).await? {
                Conditional::Fetched { data, .. } => Some(data),
                Conditional::Missing | Conditional::Unchanged => None,
            },
        )
    }

    /// The file at `rel`, unless the server says the copy `held` describes is current.
    pub async fn get_if_changed(&self, rel: &str, held: Validators<'_>) -> Result<Conditional> {
        let io = |e: std::io::Error| Error::Io {
            path: rel.to_owned(),
            source: e,
        };
        Ok(match self.fetch(rel, held, None).await? {
            Got::Unchanged => Conditional::Unchanged,
            Got::Missing => Conditional::Missing,
            Got::Body {
                sink,
                etag,
                last_modified,
            } => Conditional::Fetched {
                data: sink.into_bytes().map_err(io)?,
                etag,
                last_modified,
            },
            Got::Local(body) => match body {
                Body::Memory(data, _) => Conditional::Fetched {
                    data,
                    etag: None,
                    last_modified: 0,
                },
                Body::File(..) => Conditional::Missing,
            },
        })
    }

    /// An object at `rel`, or `None` if the remote has none: held in memory when small
    /// and `spill`'s budget allows, else in an unnamed file of `spill`'s directory.
    pub async fn get_object(&self, rel: &str, spill: &Spill) -> Result<Option<Body>> {
        let io = |e: std::io::Error| Error::Io {
            path: rel.to_owned(),
            source: e,
        };
        Ok(
            match self.fetch(rel, Validators::default(), Some(spill)).await? {
                Got::Unchanged | Got::Missing => None,
                Got::Body { sink, .. } => Some(sink.finish().map_err(io)?),
                Got::Local(body) => Some(body),
            },
        )
    }

    async fn fetch(&self, rel: &str, held: Validators<'_>, spill: Option<&Spill>) -> Result<Got> {
        match &self.kind {
            Kind::File { root } => {
                let path = root.join(rel);
                let limit = max_size(rel);
                let spill = spill.cloned();
                match tokio::task::spawn_blocking(move || read_local(&path, limit, spill)).await {
                    Ok(Ok(body)) if body.len() > limit => Err(Error::TooLarge {
                        url: root.join(rel).display().to_string(),
                        limit,
                    }),
                    Ok(Ok(body)) => {
                        self.received.fetch_add(body.len(), Ordering::Relaxed);
                        Ok(Got::Local(body))
                    }
                    Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(Got::Missing),
                    Ok(Err(e)) => Err(Error::Io {
                        path: root.join(rel).display().to_string(),
                        source: e,
                    }),
                    Err(e) => Err(Error::Io {
                        path: root.join(rel).display().to_string(),
                        source: std::io::Error::other(e.to_string()),
                    }),
                }
            }
            Kind::Http { bases, clients } => {
                let mut result = Ok(Got::Missing);
                for (i, base) in bases.iter().enumerate() {
                    let url = format!("{base}{rel}");
                    // A mirror that fails hands over to the next at once; only the last
                    // one is retried.
                    let last = i + 1 == bases.len();
                    let retries = if last { self.options.retries } else { 0 };
                    result = self.get_http(clients, &url, held, retries, spill).await;
                    if last || !matches!(result, Ok(Got::Missing) | Err(_)) {
                        break;
                    }
                }
                result
            }
        }
    }

    /// One file from one URL, over h2c when the server speaks it (the first request
    /// decides), else HTTP/1.1 (or HTTP/2 negotiated over TLS).
    async fn get_http(
        &self,
        clients: &Clients,
        url: &str,
        held: Validators<'_>,
        retries: u32,
        spill: Option<&Spill>,
    ) -> Result<Got> {
        let new_sink = || spill.map_or_else(Sink::memory, |s| Sink::spilling(s.clone()));
        let Clients {
            h2c,
            http1,
            protocol,
        } = clients;
        let client = match (h2c.as_ref(), protocol.get()) {
            (Some(h2c), None) => match self.get_once(h2c, url, held, new_sink()).await {
                Ok(found) => {
                    let _ = protocol.set(Protocol::H2c);
                    return Ok(found);
                }
                Err(_) => {
                    let _ = protocol.set(Protocol::Http1);
                    http1
                }
            },
            (Some(h2c), Some(Protocol::H2c)) => h2c,
            _ => http1,
        };
        self.get_retrying(client, url, held, retries, new_sink())
            .await
    }

    async fn get_retrying(
        &self,
        client: &reqwest::Client,
        url: &str,
        held: Validators<'_>,
        retries: u32,
        sink: Sink,
    ) -> Result<Got> {
        let mut attempt = 0;
        // What earlier attempts received: a retry asks for the rest with a range request.
        let mut received = sink;
        loop {
            match self.get_once_into(client, url, held, &mut received).await {
                Err(e) if attempt < retries && retryable(&e) => {
                    attempt += 1;
                    // 100 ms, 200 ms, 400 ms, ... capped at 5 s.
                    let wait =
                        Duration::from_millis(100 << attempt.min(6)).min(Duration::from_secs(5));
                    tokio::time::sleep(wait).await;
                }
                Ok(Attempt::Received {
                    etag,
                    last_modified,
                }) => {
                    return Ok(Got::Body {
                        sink: received,
                        etag,
                        last_modified,
                    });
                }
                Ok(Attempt::Missing) => return Ok(Got::Missing),
                Ok(Attempt::Unchanged) => return Ok(Got::Unchanged),
                Err(e) => return Err(e),
            }
        }
    }

    /// One request into a fresh sink.
    async fn get_once(
        &self,
        client: &reqwest::Client,
        url: &str,
        held: Validators<'_>,
        mut sink: Sink,
    ) -> Result<Got> {
        Ok(
            match self.get_once_into(client, url, held, &mut sink).await? {
                Attempt::Received {
                    etag,
                    last_modified,
                } => Got::Body {
                    sink,
                    etag,
                    last_modified,
                },
                Attempt::Missing => Got::Missing,
                Attempt::Unchanged => Got::Unchanged,
            },
        )
    }

    /// One request; the body is appended to `received`, which holds what an interrupted
    /// earlier attempt got (resumed with `Range` when the server allows it).
    async fn get_once_into(
        &self,
        client: &reqwest::Client,
        url: &str,
        held: Validators<'_>,
        received: &mut Sink,
    ) -> Result<Attempt> {
        let transport = |e: reqwest::Error| Error::Transport {
            url: url.to_owned(),
            reason: describe(&e),
        };
        let mut request = client.get(url);
        if received.len() > 0 {
            request = request.header(reqwest::header::RANGE, format!("bytes={}-", received.len()));
        } else {
            if let Some(etag) = held.etag {
                request = request.header(reqwest::header::IF_NONE_MATCH, etag);
            }
            if held.last_modified > 0 {
                let since = std::time::UNIX_EPOCH + Duration::from_secs(held.last_modified);
                request = request.header(
                    reqwest::header::IF_MODIFIED_SINCE,
                    httpdate::fmt_http_date(since),
                );
            }
        }
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::FORBIDDEN {
            // Upstream treats 403 as "not there" too: some servers answer it for a missing file.
            return Ok(Attempt::Missing);
        }
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Attempt::Unchanged);
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let etag = header(reqwest::header::ETAG);
        let last_modified = header(reqwest::header::LAST_MODIFIED)
            .and_then(|d| httpdate::parse_http_date(&d).ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        if !status.is_success() {
            return Err(Error::Status {
                url: url.to_owned(),
                status: status.as_u16(),
            });
        }
        let sink_error = |e: std::io::Error| Error::Io {
            path: url.to_owned(),
            source: e,
        };
        if status != reqwest::StatusCode::PARTIAL_CONTENT {
            // The whole file again (the server ignored the range, or none was asked).
            received.clear().map_err(sink_error)?;
        }
        let limit = max_size(url);
        let too_large = || Error::TooLarge {
            url: url.to_owned(),
            limit,
        };
        if let Some(len) = response.content_length() {
            if len.saturating_add(received.len()) > limit {
                return Err(too_large());
            }
            received.expect(len).map_err(sink_error)?;
        }
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if received.len() + chunk.len() as u64 > limit {
                return Err(too_large());
            }
            self.received
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            received.append(&chunk).map_err(sink_error)?;
        }
        Ok(Attempt::Received {
            etag,
            last_modified,
        })
    }
}

/// How one request ended.
enum Attempt {
    Missing,
    Unchanged,
    /// The body is in the sink.
    Received {
        etag: Option<String>,
        last_modified: u64,
    },
}

/// How a fetch ended.
enum Got {
    Missing,
    Unchanged,
    Body {
        sink: Sink,
        etag: Option<String>,
        last_modified: u64,
    },
    /// A file of a local remote.
    Local(Body),
}

/// Reads a local remote's file: whole when it is small and the budget (if any) allows,
/// else opened to be read as it is stored. One byte more than `limit` tells an oversized
/// file.
fn read_local(path: &std::path::Path, limit: u64, spill: Option<Spill>) -> std::io::Result<Body> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let held = match &spill {
        Some(spill) => match spill.hold(len) {
            Some(held) => held,
            None => return Ok(Body::File(file, len)),
        },
        None => Held::none(),
    };
    let mut data = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut data)?;
    Ok(Body::Memory(Bytes::from(data), held))
}

/// The most a file may hold: metadata objects, refs and signatures 10 MiB (upstream's
/// limit for metadata), the summary 128 MiB, content objects any size.
fn max_size(path: &str) -> u64 {
    const METADATA: u64 = 10 << 20;
    // Delta parts are checked against the size their superblock gives.
    let delta_part = path.starts_with("deltas/") && !path.ends_with("/superblock");
    if path.ends_with(".filez") || path.ends_with(".file") || delta_part {
        u64::MAX
    } else if path.ends_with("/summary") || path == "summary" {
        128 << 20
    } else {
        METADATA
    }
}

/// Whether an error may pass on a second try: connection trouble and server errors.
fn retryable(e: &Error) -> bool {
    match e {
        Error::Transport { .. } => true,
        Error::Status { status, .. } => *status >= 500 || *status == 408 || *status == 429,
        _ => false,
    }
}

/// The error and its causes on one line.
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    if e.is_timeout() {
        text.push_str(" (no progress within the timeout)");
    }
    text
}
