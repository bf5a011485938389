//! Building and running the HTTP server.
//!
//! Every request passes, outermost first: the request id and access log
//! ([`crate::ops::request_id`]), `HEAD` routed as `GET` and 405 for a method a known path does
//! not accept ([`crate::api::routes::method_check`]), JSON bodies for errors answered outside
//! the handlers ([`crate::ops::json_errors`]), then the per-client rate limits ([`crate::ops::rate_limit`]).
//! actix-web stops on SIGTERM/SIGINT: it stops accepting, lets in-flight requests finish for up
//! to `shutdown_timeout_secs`, and then the caller drops the pool (closing its connections).

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};

use crate::api::token_cache::TokenCache;
use crate::api::worker_reads::WorkerReads;
use crate::api::{configure, AppState};
use crate::db::Db;
use crate::ops::rate_limit::RateLimiter;
use crate::ops::settings::ServeLimits;

/// Starts the server on an already bound listener (port 0 in tests) with the default limits and
/// returns it running.
///
/// # Errors
/// I/O errors from binding.
pub fn start(db: Db, listener: TcpListener, workers: usize) -> std::io::Result<Server> {
    start_with(db, listener, workers, &ServeLimits::default())
}

/// Starts the server with explicit limits and timeouts.
///
/// # Errors
/// I/O errors from binding.
pub fn start_with(
    db: Db,
    listener: TcpListener,
    workers: usize,
    limits: &ServeLimits,
) -> std::io::Result<Server> {
    let state = web::Data::new(AppState {
        db,
        tokens: TokenCache::new(limits.token_cache()),
    });
    let limiter = web::Data::new(RateLimiter::new(limits.rate_limits()));
    let max_body = limits.max_body_bytes();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            // Built anew for each worker: its own SQLite read connection (src/api/worker_reads.rs).
            .app_data(web::Data::new(WorkerReads::default()))
            .app_data(limiter.clone())
            .app_data(web::PayloadConfig::new(max_body))
            .wrap(from_fn(crate::ops::rate_limit::middleware))
            .wrap(from_fn(crate::ops::json_errors::middleware))
            .wrap(from_fn(crate::api::routes::method_check))
            .wrap(from_fn(crate::ops::nul_bytes::middleware))
            .wrap(from_fn(crate::ops::request_id::middleware))
            .configure(crate::web::configure)
            .configure(configure)
    })
    .workers(workers.max(1))
    .client_request_timeout(limits.request_timeout())
    .client_disconnect_timeout(Duration::from_secs(5))
    .keep_alive(Duration::from_secs(limits.keep_alive_secs))
    .shutdown_timeout(limits.shutdown_timeout_secs)
    .listen(listener)?
    .run();
    Ok(server)
}
