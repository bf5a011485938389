//! Shared by the tests/ops_*.rs suites (issue 9): fresh databases (a SQLite file in a temp dir or
//! a PostgreSQL database created and dropped per test) and the real `coallab` binary started as
//! a child process on 127.0.0.1 with a random port.
#![allow(dead_code)]

pub mod lifecycle_rows;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use coallab::config::StorageSettings;
use coallab::db::Db;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

pub const TECH: &str = "demo-technician";
pub const REVIEWER: &str = "demo-reviewer";
pub const ADMIN: &str = "demo-admin";
pub const AUDITOR: &str = "demo-auditor";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty database: its storage settings, and what removes it afterwards.
pub struct Fresh {
    pub settings: StorageSettings,
    pub dir: tempfile::TempDir,
    pg: Option<PgGuard>,
}

struct PgGuard {
    admin_url: String,
    name: String,
}

impl Drop for PgGuard {
    fn drop(&mut self) {
        if let Ok(mut c) = PgConnection::establish(&self.admin_url) {
            let _ = c.batch_execute(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{}' AND pid <> pg_backend_pid()",
                self.name
            ));
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {}", self.name));
        }
    }
}

pub fn pg_admin_url() -> String {
    std::env::var("COALLAB_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// `postgres://u@h:p/admin?x` → `postgres://u@h:p/name?x`.
pub fn url_with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let root = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

impl Fresh {
    /// A fresh database of `backend`; `None` (after printing SKIPPED) when PostgreSQL is not
    /// reachable outside CI. Under CI=true an unreachable PostgreSQL fails the test.
    pub fn new(backend: Backend) -> Option<Fresh> {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => Some(Fresh {
                settings: StorageSettings {
                    data_dir: dir.path().join("data"),
                    database_url: None,
                },
                dir,
                pg: None,
            }),
            Backend::Postgres => {
                let admin = pg_admin_url();
                let mut c = match PgConnection::establish(&admin) {
                    Ok(c) => c,
                    Err(e) => {
                        if std::env::var("CI").is_ok_and(|v| v == "true") {
                            panic!("PostgreSQL at {admin} is required under CI=true: {e}");
                        }
                        eprintln!("SKIPPED: PostgreSQL not reachable at {admin}: {e}");
                        return None;
                    }
                };
                let name = format!("coallab_ops_{:016x}", rand::random::<u64>());
                c.batch_execute(&format!("CREATE DATABASE {name}"))
                    .expect("create test database");
                Some(Fresh {
                    settings: StorageSettings {
                        data_dir: dir.path().join("data"),
                        database_url: Some(url_with_database(&admin, &name)),
                    },
                    dir,
                    pg: Some(PgGuard {
                        admin_url: admin,
                        name,
                    }),
                })
            }
        }
    }

    pub fn open(&self, pool: u32) -> Db {
        self.settings.open(pool).expect("open database")
    }

    /// The SQLite file (SQLite only).
    pub fn sqlite_file(&self) -> PathBuf {
        self.settings.data_dir.join("coallab.db")
    }

    /// Storage arguments for the binary.
    pub fn args(&self) -> Vec<String> {
        let mut a = vec![
            "--data-dir".to_string(),
            self.settings.data_dir.display().to_string(),
        ];
        if let Some(u) = &self.settings.database_url {
            a.push("--database-url".into());
            a.push(u.clone());
        }
        a
    }
}

/// Runs the coallab binary to completion; returns (exit code, stdout, stderr).
pub fn run_cli(args: &[String]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_coallab"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("COALLAB_DATA_DIR")
        .env("COALLAB_LOG", "warn")
        .output()
        .expect("run coallab");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// The real server as a child process.
pub struct Server {
    pub child: Child,
    pub address: String,
    pub log: PathBuf,
}

impl Server {
    /// Starts `coallab serve --bind 127.0.0.1:0 --no-demo` with `extra` arguments and
    /// environment, and waits (at most 120 s) for its "listening on" line. Its stderr (the
    /// logs) goes to `log`.
    pub fn start(fresh: &Fresh, extra: &[&str], env: &[(&str, &str)], log: &Path) -> Server {
        let mut args = fresh.args();
        args.extend(
            [
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--no-demo",
                "--workers",
                "2",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        args.extend(extra.iter().map(|s| s.to_string()));
        let stderr = std::fs::File::create(log).expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_coallab"));
        cmd.args(&args)
            .env_remove("DATABASE_URL")
            .env_remove("COALLAB_DATA_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start coallab serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let address = loop {
            match rx.recv_timeout(Duration::from_secs(120)) {
                Ok(line) => {
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        break rest.split_whitespace().next().unwrap_or("").to_string();
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "coallab serve did not start; log:\n{}",
                        std::fs::read_to_string(log).unwrap_or_default()
                    );
                }
            }
        };
        Server {
            child,
            address,
            log: log.to_path_buf(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM (via kill(1)) and wait for the exit status, at most `secs` seconds.
    pub fn terminate(&mut self, secs: u64) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..secs * 10 {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client")
}

/// A sample registration body for sale point SP-02 of the demo county.
pub fn new_sample(i: usize) -> serde_json::Value {
    serde_json::json!({
        "supplier_code": "SP-02",
        "samplers": ["张伟", "刘洋"],
        "sampled_at": (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339(),
        "coal_category": "无烟块煤",
        "test_seal_no": format!("T-OPS-{i}"),
        "retained_seal_no": format!("B-OPS-{i}"),
    })
}
