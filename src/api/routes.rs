//! The JSON API's route table. Each route is registered with its method, and the table keeps
//! which methods each path accepts, so that a request for a known path with another method
//! gets `405 method_not_allowed` with an `Allow` header (RFC 9110 §15.5.6) instead of 404, and
//! a path nobody serves gets `404 not_found`. `HEAD` is answered as `GET` without a body
//! (RFC 9110 §9.3.2; [`method_check`]), except on the one `GET` that may write (a test report's
//! first view issues its verification code, with an audit event): there `HEAD` gets 405.
//!
//! When several paths match a request, the one with the fewest `{…}` segments names the
//! methods: `POST /api/v1/samples/{key}/revisions` gets 405 (`Allow: GET, HEAD`), though the
//! pattern `/api/v1/samples/{key}/{action}` would take any POST.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ResourceDef, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, Handler, HttpRequest, HttpResponse, Responder};

use crate::error::AppError;

/// The paths of the API with the methods each accepts (shared by every worker).
pub struct MethodTable {
    /// Each path pattern, its number of `{…}` segments, and its methods.
    paths: Vec<(ResourceDef, usize, Vec<&'static str>)>,
}

impl MethodTable {
    /// The methods of the most specific patterns matching `path` (fewest `{…}` segments).
    fn methods(&self, path: &str) -> Vec<&'static str> {
        let matching: Vec<_> = self
            .paths
            .iter()
            .filter(|(def, _, _)| def.is_match(path))
            .collect();
        let Some(fewest) = matching.iter().map(|(_, n, _)| *n).min() else {
            return Vec::new();
        };
        matching
            .into_iter()
            .filter(|(_, n, _)| *n == fewest)
            .flat_map(|(_, _, m)| m.iter().copied())
            .collect()
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
                .map(|(p, m)| {
                    let dynamic = p.matches('{').count();
                    (ResourceDef::new(p), dynamic, m)
                })
                .collect(),
        });
        self.cfg.app_data(table).default_service(web::to(unrouted));
    }
}

async fn unrouted(req: HttpRequest, table: web::Data<MethodTable>) -> HttpResponse {
    match table.allow(req.path()) {
        Some(allow) => not_allowed(req.method(), &allow),
        None => {
            actix_web::ResponseError::error_response(&AppError::NotFound("no such endpoint".into()))
        }
    }
}

/// `405 method_not_allowed` with `Allow: allow`.
fn not_allowed(method: &Method, allow: &str) -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, allow.to_string()))
        .json(serde_json::json!({
            "error": "method_not_allowed",
            "message": format!("{method} is not served on this path; it accepts {allow}"),
        }))
}

/// Middleware, before routing:
/// - a `HEAD` of an API path whose route table allows it is routed as `GET`. The HTTP/1 codec
///   remembers that the request was a `HEAD` and sends the headers of the answer (with its
///   `Content-Length`) without its body. A `HEAD` of `/` or of a web page (`/ui…`, whose
///   `GET`s write nothing on the server) is routed as `GET` too, so it answers what `GET` would
///   (303, 200, 404) without the body. Any other `HEAD` goes on as it is, to the 405 of its
///   path;
/// - any other method but `GET` on a known API path that does not accept it gets 405 at once,
///   so that a pattern route (`/samples/{key}/{action}`) does not take a request meant for a
///   fixed path beside it. (`GET` needs no check: no pattern route takes a `GET` of another
///   path, and the status lookup's `GET` stays free of it.)
///
/// # Errors
/// Whatever the inner service returns.
pub async fn method_check(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let method = req.method().clone();
    if method != Method::GET {
        if let Some(table) = req.app_data::<web::Data<MethodTable>>() {
            let allowed = table.methods(req.path());
            let web_page = allowed.is_empty()
                && (req.path() == "/" || req.path() == "/ui" || req.path().starts_with("/ui/"));
            if method == Method::HEAD && (allowed.contains(&"HEAD") || web_page) {
                req.head_mut().method = Method::GET;
            } else if !allowed.is_empty() && !allowed.contains(&method.as_str()) {
                let allow = table.allow(req.path()).unwrap_or_default();
                return Ok(req
                    .into_response(not_allowed(&method, &allow))
                    .map_into_right_body());
            }
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}
