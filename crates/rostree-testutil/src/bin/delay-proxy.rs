//! A TCP proxy on 127.0.0.1 that holds every chunk a fixed delay in each direction, in order:
//! the benchmark's long link (25 ms each way is a 50 ms round trip), since this kernel has
//! no netem. Only latency is added, never a throughput limit.
//!
//! It replaced a Python asyncio proxy whose own CPU time (about 1.2 s for one pull of tree
//! b) competed with the tool being measured on 2 cores.
//!
//! Usage: delay-proxy LISTEN_PORT TARGET_PORT [DELAY_MS]
//!
//! Prints "ready PORT" once listening (LISTEN_PORT 0 takes a free port). Stops by itself when its parent goes away, so a crashed
//! benchmark leaves nothing behind.

use std::io::Write;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = || std::io::Error::other("usage: delay-proxy LISTEN_PORT TARGET_PORT [DELAY_MS]");
    let port = |i: usize| -> std::io::Result<u16> {
        args.get(i).and_then(|a| a.parse().ok()).ok_or_else(usage)
    };
    let (listen_port, target_port) = (port(1)?, port(2)?);
    let delay_ms: u64 = match args.get(3) {
        Some(a) => a.parse().map_err(|_| usage())?,
        None => 25,
    };
    let delay = Duration::from_millis(delay_ms);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", listen_port)).await?;
        println!("ready {}", listener.local_addr()?.port());
        std::io::stdout().flush()?;
        let parent = std::os::unix::process::parent_id();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                // An orphan is re-parented: that is the signal to stop.
                if std::os::unix::process::parent_id() != parent {
                    std::process::exit(0);
                }
            }
        });
        loop {
            let (client, _) = listener.accept().await?;
            tokio::spawn(async move {
                if let Ok(server) = TcpStream::connect(("127.0.0.1", target_port)).await {
                    relay(client, server, delay).await;
                }
            });
        }
    })
}

/// Pumps both directions until each side has closed.
async fn relay(client: TcpStream, server: TcpStream, delay: Duration) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_r, client_w) = client.into_split();
    let (server_r, server_w) = server.into_split();
    tokio::join!(
        pump(client_r, server_w, delay),
        pump(server_r, client_w, delay)
    );
}

/// Reads chunks from one side and writes each to the other `delay` after it arrived.
async fn pump(from: OwnedReadHalf, mut to: OwnedWriteHalf, delay: Duration) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let receive = async move {
        loop {
            // The buffer exists only between readiness and the read, so an idle
            // connection holds none.
            let chunk = match from.readable().await {
                Ok(()) => {
                    let mut buf = [0u8; 64 << 10];
                    match from.try_read(&mut buf) {
                        Ok(n) => buf[..n].to_vec(),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                        Err(_) => Vec::new(),
                    }
                }
                Err(_) => Vec::new(),
            };
            let end = chunk.is_empty();
            // An empty chunk carries the end of the stream, delayed like the data.
            if tx.send((Instant::now() + delay, chunk)).is_err() || end {
                return;
            }
        }
    };
    let send = async move {
        while let Some((due, data)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if data.is_empty() || to.write_all(&data).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(receive, send);
}
