//! The `eris` binary as a newcomer runs it: `serve` on the SQLite default, `migrate`, `openapi`, and start-up
//! errors that name the setting at fault.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const ERIS: &str = env!("CARGO_BIN_EXE_eris");

/// Settings a test must not inherit from the environment, and that `serve --help` must explain.
const SETTINGS: [&str; 10] = [
    "DATABASE_URL",
    "ERIS_BIND",
    "ERIS_DATA_DIR",
    "ERIS_LOG",
    "ERIS_MAX_BODY_BYTES",
    "ERIS_AUTH",
    "ERIS_JWT_JWKS_URL",
    "ERIS_COMPONENT_ALLOW_CIDRS",
    "ERIS_RETENTION_MAX_AGE_DAYS",
    "ERIS_RETENTION_KEEP_PER_SCHEDULE",
];

/// A command with none of eris's settings inherited from the environment.
fn eris() -> Command {
    let mut command = Command::new(ERIS);
    for variable in SETTINGS {
        command.env_remove(variable);
    }
    command.env("NO_COLOR", "1");
    command
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A plain HTTP/1.1 GET; returns the status code and the body.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    Some((status, body))
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_exit(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "eris did not exit within {timeout:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn serve_starts_on_the_sqlite_default_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let port = free_port();
    let child = eris()
        .args(["serve"])
        .env("ERIS_DATA_DIR", &data_dir)
        .env("ERIS_BIND", format!("127.0.0.1:{port}"))
        // Empty variables count as unset, as Compose files and ConfigMaps often have them.
        .env("ERIS_WORKER_LEASE_SECS", "")
        .env("ERIS_AUTH", " ")
        .env("ERIS_GRAFANA_URL", "")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(port, "/ready").map(|(status, _)| status) != Some(200) {
        assert!(Instant::now() < deadline, "eris did not become ready");
        assert!(server.0.try_wait().unwrap().is_none(), "eris exited");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(get(port, "/api/v1/experiment"), Some((200, "[]".to_owned())));
    assert!(data_dir.join("eris.db").is_file(), "the SQLite file is created inside ERIS_DATA_DIR");

    let pid = server.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = wait_for_exit(&mut server.0, Duration::from_secs(10));
    assert!(status.success(), "a SIGTERM is a clean stop: {status}");
}

fn failing(command: &mut Command) -> String {
    let Output { status, stderr, .. } = command.output().unwrap();
    assert!(!status.success());
    String::from_utf8_lossy(&stderr).into_owned()
}

#[test]
fn unusable_settings_stop_start_up_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("ERIS_BIND", "localhost"),
        ("ERIS_MAX_BODY_BYTES", "a lot"),
        ("DATABASE_URL", "mysql://root@localhost/eris"),
        ("DATABASE_URL", "postgres://eris@127.0.0.1:1/eris"),
        ("ERIS_LOG", "eris=loudest"),
        ("ERIS_AUTH", "open"),
        ("ERIS_STEP_TIMEOUT_SECS", "0"),
        ("ERIS_GATLING_EXECUTOR_URL", "gatling:8889"),
    ];
    for (variable, value) in cases {
        let stderr = failing(eris().arg("serve").env("ERIS_DATA_DIR", dir.path()).env(variable, value));
        assert!(stderr.contains(variable), "{variable}={value}: {stderr}");
    }
    // A port that is taken.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let bind = taken.local_addr().unwrap().to_string();
    let stderr = failing(eris().arg("serve").env("ERIS_DATA_DIR", dir.path()).env("ERIS_BIND", &bind));
    assert!(stderr.contains("ERIS_BIND"), "{stderr}");
}

#[test]
fn migrate_applies_once_and_openapi_prints_the_committed_document() {
    let dir = tempfile::tempdir().unwrap();
    let first = eris().arg("migrate").env("ERIS_DATA_DIR", dir.path()).output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(String::from_utf8_lossy(&first.stderr).contains("applied migration"));
    let second = eris().arg("migrate").env("ERIS_DATA_DIR", dir.path()).output().unwrap();
    assert!(String::from_utf8_lossy(&second.stderr).contains("up to date"));

    let printed = eris().arg("openapi").output().unwrap();
    assert!(printed.status.success());
    let committed = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json")).unwrap();
    assert_eq!(String::from_utf8_lossy(&printed.stdout), String::from_utf8_lossy(&committed));
}

#[test]
fn help_explains_every_setting() {
    let help = eris().args(["serve", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    for variable in SETTINGS {
        assert!(text.contains(variable), "serve --help does not mention {variable}:\n{text}");
    }
}

#[test]
fn token_commands_create_list_and_revoke_in_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| eris().args(args).env("ERIS_DATA_DIR", dir.path()).env("USER", "ops").output().unwrap();
    let created = run(&["token", "create", "--name", "alice", "--scope", "admin"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let text = String::from_utf8_lossy(&created.stdout).trim().to_owned();
    assert!(text.starts_with("eris_") && !text.contains(char::is_whitespace), "only the token on stdout: {text:?}");
    assert!(String::from_utf8_lossy(&created.stderr).contains("shown this once"));

    let listed = String::from_utf8_lossy(&run(&["token", "list"]).stdout).into_owned();
    let token: serde_json::Value = serde_json::from_str(listed.trim()).unwrap();
    assert_eq!((token["name"].as_str(), token["scope"].as_str()), (Some("alice"), Some("admin")));
    assert_eq!(token["created_by"], "cli:ops");
    assert!(!listed.contains(&text), "the list never shows the text");

    let stderr =
        String::from_utf8_lossy(&run(&["token", "create", "--name", "alice", "--scope", "read"]).stderr).into_owned();
    assert!(stderr.contains("'alice' exists already"), "{stderr}");
    let refused = run(&["token", "create", "--name", "bob", "--scope", "root"]);
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("'root' is not a scope"));

    let revoked = run(&["token", "revoke", "alice"]);
    assert!(revoked.status.success(), "{}", String::from_utf8_lossy(&revoked.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&run(&["token", "list"]).stdout).unwrap();
    assert_eq!(listed["revoked_by"], "cli:ops");
    assert!(!run(&["token", "revoke", "nobody"]).status.success());
}
