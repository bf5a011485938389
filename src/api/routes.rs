//! The JSON API's route table. Each route is registered with its method, and the table keeps
//! which methods each path accepts, so that a request for a known path with another method
//! gets `405 method_not_allowed` with an `Allow` header (RFC 9110 §15.5.6) instead of 404, and
//! a path nobody serves gets `404 not_found`. `HEAD` is answered as `GET` without a body
//! (RFC 9110 §9.3.2; [`head_as_get`]), except on the one `GET` that may write (a test report's
//! first view issues its verification code, with an audit event): there `HEAD` gets 405.

use actix_web::body::MessageBody;
use actix_web::dev::{ResourceDef, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, Handler, HttpRequest, HttpResponse, Responder};

use crate::error::AppError;

/// The paths of the API with the methods each accepts (shared by every worker).
pub struct MethodTable {
    paths: Vec<(ResourceDef, Vec<&'static str>)>,
}

impl MethodTable {
    fn methods(&self, path: &str) -> Vec<&'static str> {
        self.paths
            .iter()
            .filter(|(def, _)| def.is_match(path))
            .flat_map(|(_, m)| m.iter().copied())
            .collect()
    }

    /// Whether a `HEAD` of `path` is answered (as its `GET`).
    pub fn head_allowed(&self, path: &str) -> bool {
        self.methods(path).contains(&"HEAD")
    }

    /// The methods accepted on `path`, as an `Allow` value; `None` when no route has this path.
    pub fn allow(&self, path: &str) -> Option<String> {
        let mut methods = self.methods(path);
        if methods.is_empty() {
            return None;
        }
        methods.sort_unstable();
        methods.dedup();
        Some(methods.join(", "))
    }
}

/// Registers routes on a [`web::ServiceConfig`] and records their methods.
pub struct Routes<'a> {
    cfg: &'a mut web::ServiceConfig,
    paths: Vec<(String, Vec<&'static str>)>,
}

impl<'a> Routes<'a> {
    /// Starts an empty table on `cfg`.
    pub fn new(cfg: &'a mut web::ServiceConfig) -> Self {
        Routes {
            cfg,
            paths: Vec::new(),
        }
    }

    fn add(&mut self, path: &str, methods: &[&'static str], route: actix_web::Route) {
        self.cfg.route(path, route);
        match self.paths.iter_mut().find(|(p, _)| p == path) {
            Some((_, m)) => m.extend_from_slice(methods),
            None => self.paths.push((path.to_string(), methods.to_vec())),
        }
    }

    /// `GET path` (and `HEAD`) → `handler`.
    pub fn get<F, Args>(&mut self, path: &str, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(path, &["GET", "HEAD"], web::get().to(handler));
    }

    /// `GET path` → `handler`, without `HEAD`: for a `GET` that may write (a `HEAD` must not).
    pub fn get_without_head<F, Args>(&mut self, path: &str, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(path, &["GET"], web::get().to(handler));
    }

    /// `POST path` → `handler`.
    pub fn post<F, Args>(&mut self, path: &str, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(path, &["POST"], web::post().to(handler));
    }

    /// Installs the answer for everything no route took: 405 with `Allow` for a known path,
    /// else 404.
    pub fn finish(self) {
        let table = web::Data::new(MethodTable {
            paths: self
                .paths
                .into_iter()
                .map(|(p, m)| (ResourceDef::new(p), m))
                .collect(),
        });
        self.cfg.app_data(table).default_service(web::to(unrouted));
    }
}

async fn unrouted(req: HttpRequest, table: web::Data<MethodTable>) -> HttpResponse {
    match table.allow(req.path()) {
        Some(allow) => HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, allow.clone()))
            .json(serde_json::json!({
                "error": "method_not_allowed",
                "message": format!("{} is not served on this path; it accepts {allow}", req.method()),
            })),
        None => actix_web::ResponseError::error_response(&AppError::NotFound(
            "no such endpoint".into(),
        )),
    }
}

/// Middleware: a `HEAD` of an API path whose route table allows it is routed as `GET`. The
/// HTTP/1 codec remembers that the request was a `HEAD` and sends the headers of the answer
/// (with its `Content-Length`) without its body. Any other `HEAD` goes on as it is, to the 405
/// of its path (or the interface's own answer under `/ui`).
///
/// # Errors
/// Whatever the inner service returns.
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == Method::HEAD
        && req
            .app_data::<web::Data<MethodTable>>()
            .is_some_and(|t| t.head_allowed(req.path()))
    {
        req.head_mut().method = Method::GET;
    }
    next.call(req).await
}
