//! A real `eris serve` on a benchmark's database, driven over loopback with keep-alive HTTP/1.1 connections as wrk
//! drives a server: requests per second, p50/p99, the server's CPU per request and its RSS.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;

pub const CONNECTIONS: usize = 32;
pub const SECONDS: u64 = 8;
const WARM_UP: Duration = Duration::from_secs(1);

/// `eris serve` on the database, with its defaults; killed when dropped.
pub struct Server {
    child: Child,
    pub address: std::net::SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn start(database: &eris::db::DatabaseUrl) -> Self {
        Self::start_binary(std::path::Path::new(env!("CARGO_BIN_EXE_eris")), database)
    }

    /// `binary serve` on the database: another build of eris, to compare with.
    pub fn start_binary(binary: &std::path::Path, database: &eris::db::DatabaseUrl) -> Self {
        let url = match database {
            eris::db::DatabaseUrl::Postgres(url) => url.clone(),
            eris::db::DatabaseUrl::Sqlite(path) => format!("sqlite://{path}"),
        };
        let address = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let child = Command::new(binary)
            .arg("serve")
            .env("DATABASE_URL", &url)
            .env("ERIS_BIND", address.to_string())
            .env("ERIS_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self { child, address }
    }

    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while get_once(self.address, "/ready").await != Some(200) {
            assert!(Instant::now() < deadline, "eris serve did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// User plus system CPU time of the server so far, in clock ticks (`/proc/<pid>/stat` fields 14 and 15).
    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let fields: Vec<&str> =
            stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
        // After the command's closing parenthesis, field 3 (state) is index 0, so utime (14) is 11, stime (15) 12.
        fields.get(11).and_then(|t| t.parse::<u64>().ok()).unwrap_or(0)
            + fields.get(12).and_then(|t| t.parse::<u64>().ok()).unwrap_or(0)
    }

    /// The server's resident memory now.
    pub fn rss_kb(&self) -> u64 {
        self.status_kb("VmRSS:")
    }

    /// The most resident memory the server has had since it started.
    pub fn peak_rss_kb(&self) -> u64 {
        self.status_kb("VmHWM:")
    }

    fn status_kb(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }
}

/// What driving one route gave.
pub struct Load {
    histogram: Histogram<u64>,
    elapsed: Duration,
    errors: u64,
    cpu_ms_per_request: f64,
    connections: usize,
}

impl Load {
    pub fn per_second(&self) -> f64 {
        self.histogram.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// The latency at `quantile` (1.0: the slowest), in milliseconds.
    pub fn ms(&self, quantile: f64) -> f64 {
        self.histogram.value_at_quantile(quantile) as f64 / 1000.0
    }

    pub fn cpu_ms_per_request(&self) -> f64 {
        self.cpu_ms_per_request
    }

    pub fn print(&self, what: &str) {
        let ms = |quantile: f64| self.ms(quantile);
        println!(
            "{what}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {} errors, server CPU {:.3} ms per request ({} connections, {SECONDS} s)",
            self.per_second(),
            ms(0.5),
            ms(0.99),
            self.histogram.max() as f64 / 1000.0,
            self.errors,
            self.cpu_ms_per_request,
            self.connections
        );
    }
}

impl std::ops::AddAssign for Load {
    /// Two runs of the same route as one.
    fn add_assign(&mut self, other: Load) {
        let requests = |load: &Load| load.histogram.len() as f64;
        self.cpu_ms_per_request = (self.cpu_ms_per_request * requests(self)
            + other.cpu_ms_per_request * requests(&other))
            / (requests(self) + requests(&other)).max(1.0);
        self.histogram.add(other.histogram).unwrap();
        self.elapsed += other.elapsed;
        self.errors += other.errors;
    }
}

/// Drives `path` with [`CONNECTIONS`] connections, each sending the next request when the last was answered.
pub async fn drive(server: &Server, path: &str) -> Load {
    drive_with(server, path, CONNECTIONS).await
}

/// Drives `path` with `connections` connections (one: the latency of a request alone).
pub async fn drive_with(server: &Server, path: &str, connections: usize) -> Load {
    let count = connections;
    let measuring = Arc::new(AtomicBool::new(false));
    let over = Arc::new(AtomicBool::new(false));
    let connections: Vec<_> = (0..connections)
        .map(|_| {
            let (measuring, over, address, path) = (measuring.clone(), over.clone(), server.address, path.to_owned());
            tokio::spawn(async move {
                let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
                let mut errors = 0;
                let stream = tokio::net::TcpStream::connect(address).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let (mut sender, connection) =
                    hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.unwrap();
                tokio::spawn(connection);
                while !over.load(Ordering::Relaxed) {
                    let request =
                        hyper::Request::get(path.as_str()).header("host", "bench").body(Empty::<Bytes>::new()).unwrap();
                    let started = Instant::now();
                    let ok = match sender.send_request(request).await {
                        Ok(response) => {
                            let status = response.status();
                            response.into_body().collect().await.is_ok() && status.is_success()
                        }
                        Err(_) => false,
                    };
                    if measuring.load(Ordering::Relaxed) {
                        if ok {
                            histogram.record(started.elapsed().as_micros().max(1) as u64).unwrap();
                        } else {
                            errors += 1;
                        }
                    }
                }
                (histogram, errors)
            })
        })
        .collect();
    tokio::time::sleep(WARM_UP).await;
    let (ticks_before, started) = (server.cpu_ticks(), Instant::now());
    measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(SECONDS)).await;
    measuring.store(false, Ordering::Relaxed);
    let (elapsed, ticks) = (started.elapsed(), server.cpu_ticks() - ticks_before);
    over.store(true, Ordering::Relaxed);
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    let mut errors = 0;
    for connection in connections {
        let (one, failed) = connection.await.unwrap();
        histogram.add(one).unwrap();
        errors += failed;
    }
    // Clock ticks are 1/100 s on Linux.
    let cpu_ms_per_request = ticks as f64 * 10.0 / histogram.len().max(1) as f64;
    Load { histogram, elapsed, errors, cpu_ms_per_request, connections: count }
}

/// One GET on a new connection: its status, or None.
pub async fn get_once(address: std::net::SocketAddr, path: &str) -> Option<u16> {
    let stream = tokio::net::TcpStream::connect(address).await.ok()?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.ok()?;
    tokio::spawn(connection);
    let request = hyper::Request::get(path).header("host", "bench").body(Empty::<Bytes>::new()).ok()?;
    Some(sender.send_request(request).await.ok()?.status().as_u16())
}
