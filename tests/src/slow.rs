//! Slow HTTP clients and a latency probe, for the starvation tests: uploads
//! that trickle their body a byte at a time and downloads that read a byte
//! at a time, over raw TCP, while [`probe`] times what honest clients ask.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Slow connections held open by one thread until dropped.
pub struct SlowClients {
    stop: Arc<AtomicBool>,
    closed_uploads: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

struct Conn {
    stream: TcpStream,
    upload: bool,
    closed: bool,
}

impl SlowClients {
    /// Opens one `PUT` per path in `uploads` (announcing `upload_len` bytes)
    /// and one `GET` per path in `downloads`, all to `addr`; then every
    /// `every`, sends one body byte on each upload and reads one byte of
    /// each download.
    pub fn start(
        addr: SocketAddr,
        uploads: &[String],
        downloads: &[String],
        upload_len: u64,
        every: Duration,
    ) -> SlowClients {
        let mut conns = Vec::new();
        for (path, upload) in uploads
            .iter()
            .map(|p| (p, true))
            .chain(downloads.iter().map(|p| (p, false)))
        {
            let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
            let head = if upload {
                format!(
                    "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream\r\nContent-Length: {upload_len}\r\n\r\n"
                )
            } else {
                format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n")
            };
            // The request line and headers go out at once (they sit in the
            // kernel's buffer if the server has not accepted yet).
            stream
                .write_all(head.as_bytes())
                .expect("send request head");
            stream.set_nonblocking(true).expect("non-blocking socket");
            conns.push(Conn {
                stream,
                upload,
                closed: false,
            });
        }
        let stop = Arc::new(AtomicBool::new(false));
        let closed_uploads = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (stop, closed_uploads) = (stop.clone(), closed_uploads.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    for c in conns.iter_mut().filter(|c| !c.closed) {
                        c.closed = tick(c);
                        if c.closed && c.upload {
                            closed_uploads.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    let until = Instant::now() + every;
                    while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            })
        };
        SlowClients {
            stop,
            closed_uploads,
            thread: Some(thread),
        }
    }

    /// How many of the uploads the server has answered or closed so far.
    pub fn closed_uploads(&self) -> usize {
        self.closed_uploads.load(Ordering::Relaxed)
    }
}

/// One step of one slow connection; true once the server has closed it.
fn tick(c: &mut Conn) -> bool {
    if c.upload {
        // Whatever the server answered, then one more body byte.
        let mut buf = [0u8; 4096];
        loop {
            match c.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => return true,
            }
        }
        match c.stream.write(b"x") {
            Ok(_) => false,
            Err(e) if e.kind() == ErrorKind::WouldBlock => false,
            Err(_) => true,
        }
    } else {
        let mut byte = [0u8; 1];
        match c.stream.read(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) if e.kind() == ErrorKind::WouldBlock => false,
            Err(_) => true,
        }
    }
}

impl Drop for SlowClients {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Latencies of one kind of request, in the order they were made.
#[derive(Debug, Clone, Default)]
pub struct Latencies(pub Vec<Duration>);

impl Latencies {
    /// The median.
    pub fn p50(&self) -> Duration {
        let mut v = self.0.clone();
        v.sort();
        v.get(v.len() / 2).copied().unwrap_or_default()
    }

    /// The largest.
    pub fn max(&self) -> Duration {
        self.0.iter().max().copied().unwrap_or_default()
    }
}

/// Times `f` once; a failure counts as `limit` (and is printed).
pub fn timed(what: &str, limit: Duration, f: impl FnOnce() -> Result<(), String>) -> Duration {
    let start = Instant::now();
    match f() {
        Ok(()) => start.elapsed(),
        Err(e) => {
            eprintln!("{what} failed after {:?}: {e}", start.elapsed());
            limit.max(start.elapsed())
        }
    }
}
