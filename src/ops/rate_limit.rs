//! Per-client rate limits on login and on write requests: a token bucket per (kind, client IP)
//! kept in memory by each server (a limit is per server; N servers behind a balancer allow N
//! times as much, which is fine for a limit meant to stop runaway scripts and password guessing).
//!
//! A bucket holds up to `per_minute` tokens and refills at `per_minute / 60` tokens a second, so
//! a client may send a minute's worth at once and then that rate. An exhausted bucket answers
//! 429 with `Retry-After` (whole seconds until one token is back) and a JSON body (an HTML page
//! in the page language on the web interface's `/ui` paths). A limit of 0
//! turns that limit off. The client is the TCP peer, or with `trust_forwarded_for` the address
//! a reverse proxy puts in `X-Forwarded-For` / `Forwarded` (only behind a proxy that overwrites
//! it, see docs/operations.md: otherwise a client could pick its own key).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpResponse};

/// Rate-limit settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Login attempts per client per minute (0 = unlimited). Default 30.
    pub login_per_minute: u32,
    /// Write requests (POST, PUT, PATCH, DELETE other than login) per client per minute
    /// (0 = unlimited). Default 60 000, i.e. 1 000 a second sustained: far above a lab's
    /// work, low enough to stop a runaway script.
    pub writes_per_minute: u32,
    /// Take the client address from `X-Forwarded-For` / `Forwarded` (behind a reverse proxy).
    pub trust_forwarded_for: bool,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            login_per_minute: 30,
            writes_per_minute: 60_000,
            trust_forwarded_for: false,
        }
    }
}

/// What a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A login (POST to a path ending in /login, /session or /sessions).
    Login,
    /// Any other write.
    Write,
}

/// Classifies a request; `None` for reads, which are not limited.
pub fn classify(method: &Method, path: &str) -> Option<Kind> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let last = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    if *method == Method::POST && matches!(last, "login" | "session" | "sessions") {
        Some(Kind::Login)
    } else {
        Some(Kind::Write)
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The buckets of one server.
#[derive(Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    buckets: Mutex<HashMap<(Kind, IpAddr), Bucket>>,
}

/// Above this many buckets, full ones are dropped (they carry no information).
const MAX_BUCKETS: usize = 100_000;

impl RateLimiter {
    /// A limiter with `limits`.
    pub fn new(limits: RateLimits) -> Self {
        RateLimiter {
            limits,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The settings.
    pub fn limits(&self) -> RateLimits {
        self.limits
    }

    /// Takes one token for `(kind, ip)` at `now`; `Err(wait)` when none is left, with the time
    /// until one is back.
    pub fn check(&self, kind: Kind, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let per_minute = match kind {
            Kind::Login => self.limits.login_per_minute,
            Kind::Write => self.limits.writes_per_minute,
        };
        if per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(per_minute);
        let per_second = capacity / 60.0;
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > MAX_BUCKETS {
            map.retain(|(k, _), b| {
                let cap = f64::from(match k {
                    Kind::Login => self.limits.login_per_minute,
                    Kind::Write => self.limits.writes_per_minute,
                });
                b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * cap / 60.0 < cap
            });
        }
        let b = map.entry((kind, ip)).or_insert(Bucket {
            tokens: capacity,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * per_second).min(capacity);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / per_second))
        }
    }
}

fn client_ip(req: &ServiceRequest, trust_forwarded_for: bool) -> Option<IpAddr> {
    if trust_forwarded_for {
        let info = req.connection_info();
        if let Some(ip) = info.realip_remote_addr().and_then(parse_ip) {
            return Some(ip);
        }
    }
    req.peer_addr().map(|a| a.ip())
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| s.trim_start_matches('[').split(']').next()?.parse().ok())
}

/// The middleware (use with `actix_web::middleware::from_fn`); needs a
/// `web::Data<RateLimiter>` in the app data (without one nothing is limited).
///
/// # Errors
/// Whatever the inner service returns.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let limiter = req.app_data::<web::Data<RateLimiter>>().cloned();
    if let (Some(limiter), Some(kind)) = (limiter, classify(req.method(), req.path())) {
        if let Some(ip) = client_ip(&req, limiter.limits().trust_forwarded_for) {
            if let Err(wait) = limiter.check(kind, ip, Instant::now()) {
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                let what = match kind {
                    Kind::Login => "login attempts",
                    Kind::Write => "write requests",
                };
                tracing::warn!(%ip, ?kind, retry_after = secs, "rate limited");
                let message = format!("too many {what} from {ip}; retry in {} s", secs.max(1));
                let mut res = if crate::web::is_web_path(req.path()) {
                    crate::web::status_page(
                        req.request(),
                        actix_web::http::StatusCode::TOO_MANY_REQUESTS,
                        &message,
                    )
                } else {
                    HttpResponse::TooManyRequests().json(serde_json::json!({
                        "error": "rate_limited",
                        "message": message,
                    }))
                };
                res.headers_mut().insert(
                    actix_web::http::header::RETRY_AFTER,
                    actix_web::http::header::HeaderValue::from(secs.max(1)),
                );
                return Ok(req.into_response(res).map_into_right_body());
            }
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_free_and_logins_are_told_apart() {
        assert_eq!(classify(&Method::GET, "/api/v1/samples"), None);
        assert_eq!(classify(&Method::POST, "/api/v1/login"), Some(Kind::Login));
        assert_eq!(
            classify(&Method::POST, "/api/v1/sessions/"),
            Some(Kind::Login)
        );
        assert_eq!(
            classify(&Method::DELETE, "/api/v1/sessions"),
            Some(Kind::Write)
        );
        assert_eq!(
            classify(&Method::POST, "/api/v1/samples"),
            Some(Kind::Write)
        );
    }

    #[test]
    fn a_bucket_holds_a_minute_and_refills_at_its_rate() {
        // 3 a minute: 3 at once, the 4th waits 20 s (one token at 3/60 per second).
        let l = RateLimiter::new(RateLimits {
            login_per_minute: 3,
            writes_per_minute: 0,
            trust_forwarded_for: false,
        });
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check(Kind::Login, ip, t0).is_ok());
        }
        let wait = l.check(Kind::Login, ip, t0).unwrap_err();
        assert_eq!(wait.as_secs(), 20);
        // Another client has its own bucket; writes are unlimited (0).
        assert!(l
            .check(Kind::Login, "192.0.2.2".parse().unwrap(), t0)
            .is_ok());
        for _ in 0..1000 {
            assert!(l.check(Kind::Write, ip, t0).is_ok());
        }
        // 20 s later one token is back, and only one.
        let t1 = t0 + Duration::from_secs(20);
        assert!(l.check(Kind::Login, ip, t1).is_ok());
        assert!(l.check(Kind::Login, ip, t1).is_err());
    }

    #[test]
    fn forwarded_addresses_parse() {
        assert_eq!(parse_ip("203.0.113.9"), "203.0.113.9".parse().ok());
        assert_eq!(parse_ip("203.0.113.9:4711"), "203.0.113.9".parse().ok());
        assert_eq!(parse_ip("[2001:db8::1]:80"), "2001:db8::1".parse().ok());
        assert_eq!(parse_ip("unknown"), None);
    }
}
