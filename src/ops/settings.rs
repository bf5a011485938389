//! Server settings beyond storage (timeouts, body limit, rate limits) and their validation at
//! start: every wrong value is reported, each with one clear line, before anything is opened.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use clap::Args;

use crate::config::StorageSettings;
use crate::error::AppError;
use crate::ops::rate_limit::RateLimits;

/// Limits and timeouts of `coallab serve` (flags and environment variables).
#[derive(Args, Debug, Clone)]
pub struct ServeLimits {
    /// Seconds a client has to send a request's head before it gets 408.
    #[arg(long, env = "COALLAB_REQUEST_TIMEOUT_SECS", default_value_t = 10)]
    pub request_timeout_secs: u64,
    /// Seconds an idle keep-alive connection stays open.
    #[arg(long, env = "COALLAB_KEEP_ALIVE_SECS", default_value_t = 75)]
    pub keep_alive_secs: u64,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(long, env = "COALLAB_SHUTDOWN_TIMEOUT_SECS", default_value_t = 30)]
    pub shutdown_timeout_secs: u64,
    /// Largest raw request body (CSV imports) in MiB; JSON bodies stay at 256 KiB.
    #[arg(long, env = "COALLAB_MAX_BODY_MB", default_value_t = 8)]
    pub max_body_mb: u64,
    /// Login attempts per client IP per minute (0 = unlimited).
    #[arg(long, env = "COALLAB_RATE_LOGIN_PER_MINUTE", default_value_t = 30)]
    pub rate_login_per_minute: u32,
    /// Write requests per client IP per minute (0 = unlimited).
    #[arg(long, env = "COALLAB_RATE_WRITES_PER_MINUTE", default_value_t = 60_000)]
    pub rate_writes_per_minute: u32,
    /// Take the client IP from X-Forwarded-For (only behind a proxy that overwrites it).
    #[arg(long, env = "COALLAB_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,
    /// Milliseconds the status lookup trusts an API token it has just checked, without reading
    /// it again (0 = read it on every lookup; at most 10 000). A token revoked or a user
    /// disabled on another server or by the CLI reaches this server's status lookup within
    /// this time (docs/api.md "Authentication").
    #[arg(long, env = "COALLAB_TOKEN_CACHE_MS", default_value_t = 1000)]
    pub token_cache_ms: u64,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            request_timeout_secs: 10,
            keep_alive_secs: 75,
            shutdown_timeout_secs: 30,
            max_body_mb: 8,
            rate_login_per_minute: 30,
            rate_writes_per_minute: 60_000,
            trust_forwarded_for: false,
            token_cache_ms: 1000,
        }
    }
}

impl ServeLimits {
    /// The rate-limit part.
    pub fn rate_limits(&self) -> RateLimits {
        RateLimits {
            login_per_minute: self.rate_login_per_minute,
            writes_per_minute: self.rate_writes_per_minute,
            trust_forwarded_for: self.trust_forwarded_for,
        }
    }

    /// Client request timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// How long the status lookup trusts a checked token ([`crate::api::token_cache`]).
    pub fn token_cache(&self) -> Duration {
        Duration::from_millis(self.token_cache_ms)
    }

    /// Largest raw body in bytes.
    pub fn max_body_bytes(&self) -> usize {
        usize::try_from(self.max_body_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
    }
}

/// Replaces the password of a URL by `***` so it can be shown or logged
/// (`postgres://u:secret@h/db` → `postgres://u:***@h/db`).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return redact_query_password(url);
    };
    let user = match userinfo.split_once(':') {
        Some((u, _)) => format!("{u}:***"),
        None => userinfo.to_string(),
    };
    redact_query_password(&format!("{scheme}://{user}@{host}{tail}"))
}

fn redact_query_password(url: &str) -> String {
    match url.split_once('?') {
        Some((base, q)) => {
            let q: Vec<String> = q
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{base}?{}", q.join("&"))
        }
        None => url.to_string(),
    }
}

fn check_dir_writable(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("data directory {}: cannot create it: {e}", dir.display()))?;
    let probe = dir.join(format!(".coallab-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"ok")
        .map_err(|e| format!("data directory {}: not writable: {e}", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Checks every `serve` setting that can be checked without the database and returns the
/// address to listen on. All problems are reported together, one line each.
///
/// # Errors
/// [`AppError::Config`] listing each wrong value.
pub fn validate_serve(
    bind: &str,
    pool_size: u32,
    workers: Option<usize>,
    storage: &StorageSettings,
    limits: &ServeLimits,
) -> Result<SocketAddr, AppError> {
    let mut problems = Vec::new();
    let addr = match bind.parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            problems.push(format!(
                "--bind / COALLAB_BIND '{bind}' is not an IP address and port such as 127.0.0.1:8080"
            ));
            None
        }
    };
    if !(1..=1000).contains(&pool_size) {
        problems.push(format!(
            "--pool-size / COALLAB_POOL_SIZE {pool_size} must be between 1 and 1000"
        ));
    }
    if limits.token_cache_ms > 10_000 {
        problems.push(format!(
            "--token-cache-ms / COALLAB_TOKEN_CACHE_MS {} must be at most 10000",
            limits.token_cache_ms
        ));
    }
    if let Some(w) = workers {
        if !(1..=1024).contains(&w) {
            problems.push(format!(
                "--workers / COALLAB_WORKERS {w} must be between 1 and 1024"
            ));
        }
    }
    match storage.database_url.as_deref().map(str::trim) {
        Some(u) if !u.is_empty() => {
            let ok = ["postgres://", "postgresql://", "sqlite://"]
                .iter()
                .any(|p| u.starts_with(p))
                || !u.contains("://");
            if !ok {
                problems.push(format!(
                    "DATABASE_URL must start with postgres://, postgresql:// or sqlite:// (got '{}')",
                    redact_url(u)
                ));
            }
            if let Some(path) = u.strip_prefix("sqlite://") {
                if let Some(parent) = Path::new(path).parent() {
                    if !parent.as_os_str().is_empty() {
                        if let Err(p) = check_dir_writable(parent) {
                            problems.push(p);
                        }
                    }
                }
            }
        }
        _ => {
            if let Err(p) = check_dir_writable(&storage.data_dir) {
                problems.push(format!("--data-dir / COALLAB_DATA_DIR: {p}"));
            }
        }
    }
    if !(1..=3600).contains(&limits.request_timeout_secs) {
        problems.push("--request-timeout-secs must be between 1 and 3600".into());
    }
    if limits.keep_alive_secs > 3600 {
        problems.push("--keep-alive-secs must be at most 3600".into());
    }
    if limits.shutdown_timeout_secs > 3600 {
        problems.push("--shutdown-timeout-secs must be at most 3600".into());
    }
    if !(1..=1024).contains(&limits.max_body_mb) {
        problems.push("--max-body-mb must be between 1 and 1024".into());
    }
    match (addr, problems.is_empty()) {
        (Some(a), true) => Ok(a),
        _ => Err(AppError::Config(format!(
            "invalid settings:\n  - {}",
            problems.join("\n  - ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact_url("postgres://coal:s3cret@db.example:5432/lab"),
            "postgres://coal:***@db.example:5432/lab"
        );
        assert_eq!(
            redact_url("postgres://coal@db/lab?password=x&sslmode=require"),
            "postgres://coal@db/lab?password=***&sslmode=require"
        );
        assert_eq!(redact_url("postgres://db/lab"), "postgres://db/lab");
        assert_eq!(redact_url("/var/lib/coallab"), "/var/lib/coallab");
    }

    #[test]
    fn every_wrong_value_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        let storage = StorageSettings {
            data_dir: file.join("sub"),
            database_url: None,
        };
        let err = validate_serve("localhost", 0, Some(0), &storage, &ServeLimits::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("--bind"), "{err}");
        assert!(err.contains("--pool-size"), "{err}");
        assert!(err.contains("--workers"), "{err}");
        assert!(err.contains("--data-dir"), "{err}");
        let storage = StorageSettings {
            data_dir: dir.path().into(),
            database_url: Some("mysql://u:pw@h/db".into()),
        };
        let err = validate_serve("127.0.0.1:0", 4, None, &storage, &ServeLimits::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("DATABASE_URL") && !err.contains("pw"), "{err}");
        let storage = StorageSettings {
            data_dir: dir.path().into(),
            database_url: None,
        };
        assert!(validate_serve("127.0.0.1:0", 4, None, &storage, &ServeLimits::default()).is_ok());
        // The token memory of the status lookup: 10 s at most (the revocation delay it allows).
        let mut limits = ServeLimits {
            token_cache_ms: 10_000,
            ..ServeLimits::default()
        };
        assert!(validate_serve("127.0.0.1:0", 4, None, &storage, &limits).is_ok());
        limits.token_cache_ms = 10_001;
        let err = validate_serve("127.0.0.1:0", 4, None, &storage, &limits)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--token-cache-ms"), "{err}");
    }
}
