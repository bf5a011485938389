//! Building and running the HTTP server.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{middleware, web, App, HttpServer};

use crate::api::{configure, AppState};
use crate::db::Db;

/// Starts the server on an already bound listener (port 0 in tests) and returns it running.
///
/// # Errors
/// I/O errors from binding.
pub fn start(db: Db, listener: TcpListener, workers: usize) -> std::io::Result<Server> {
    let state = web::Data::new(AppState { db });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(middleware::Logger::new("%a \"%r\" %s %b %Dms").log_target("coallab::http"))
            .configure(configure)
    })
    .workers(workers.max(1))
    .shutdown_timeout(30)
    .listen(listener)?
    .run();
    Ok(server)
}
