//! The benchmark's delaying proxy: bytes arrive intact and in order, and a round trip
//! takes at least the two delays.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn relays_in_order_with_the_delay() {
    // An echo server behind the proxy.
    let echo = TcpListener::bind("127.0.0.1:0").expect("bind echo");
    let echo_port = echo.local_addr().expect("echo address").port();
    std::thread::spawn(move || {
        for stream in echo.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut reader = stream.try_clone().expect("clone the stream");
                let _ = std::io::copy(&mut reader, &mut stream);
            });
        }
    });
    let mut proxy = Command::new(env!("CARGO_BIN_EXE_delay-proxy"))
        .args(["0".to_owned(), echo_port.to_string(), "30".into()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start delay-proxy");
    let mut ready = String::new();
    BufReader::new(proxy.stdout.take().expect("piped stdout"))
        .read_line(&mut ready)
        .expect("read ready");
    let port: u16 = ready
        .trim()
        .strip_prefix("ready ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("not a ready line: {ready:?}"));

    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect to the proxy");
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("set a timeout");
    let started = Instant::now();
    let mut writer = conn.try_clone().expect("clone the connection");
    let sent = data.clone();
    let send = std::thread::spawn(move || writer.write_all(&sent).expect("send"));
    let mut back = vec![0u8; data.len()];
    conn.read_exact(&mut back).expect("echoed bytes");
    let elapsed = started.elapsed();
    send.join().expect("sender");
    proxy.kill().expect("stop the proxy");
    let _ = proxy.wait();

    assert!(back == data, "the bytes came back changed or out of order");
    assert!(
        elapsed >= Duration::from_millis(60),
        "a round trip through two 30 ms delays took {elapsed:?}"
    );
}
