//! Sample endpoints: register, list, read, enter determinations, lifecycle actions.

use crate::api::json_object::Object;
use crate::api::query::Query;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::api::access::{require, Endpoint};
use crate::api::auth::{Auth, LazyAuth};
use crate::api::sample_tx::{in_sample_tx_as, in_sample_tx_then_view};
use crate::api::{blocking, AppState};
use crate::domain::lifecycle::Action;
use crate::error::AppError;
use crate::service::entry::{self, NewDetermination};
use crate::service::samples::{self as svc, NewSample, SampleFilter};
use crate::service::view::sample_view;
use crate::service::workflow::{self, ActionRequest, ResultReceived};

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, AppError> {
    if req.headers().get_all("Idempotency-Key").nth(1).is_some() {
        return Err(AppError::bad_request(
            "bad_header",
            "send one Idempotency-Key header, not several",
        ));
    }
    match req.headers().get("Idempotency-Key") {
        None => Ok(None),
        Some(v) => {
            let k = v
                .to_str()
                .map_err(|_| AppError::bad_request("bad_header", "Idempotency-Key must be ASCII"))?
                .trim()
                .to_string();
            if k.is_empty()
                || k.len() > 200
                || !k.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
            {
                return Err(AppError::bad_request(
                    "bad_header",
                    "Idempotency-Key must have 1 to 200 visible ASCII characters",
                ));
            }
            Ok(Some(k))
        }
    }
}

/// `POST /api/v1/samples`: registers a sample; 201 with the sample. With an `Idempotency-Key`
/// header, repeating the request returns the sample created the first time.
pub async fn register(
    state: web::Data<AppState>,
    Auth(user): Auth,
    req: HttpRequest,
    body: web::Json<Object<NewSample>>,
) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::RegisterSample)?;
    let key = idempotency_key(&req)?.map(|k| format!("{}:{k}", user.id));
    let db = state.db.clone();
    let view = blocking(move || {
        let now = chrono::Utc::now();
        let by_key = |k: &str| {
            db.read(|tx| {
                use crate::db::schema::samples;
                Ok(crate::with_tx!(tx, |c| samples::table
                    .filter(samples::idempotency_key.eq(k))
                    .select(samples::id)
                    .first::<i64>(c)
                    .optional())?)
            })
        };
        if let Some(id) = key.as_deref().map(by_key).transpose()?.flatten() {
            return db.read(|tx| sample_view(tx, &user, id, now));
        }
        let id = match db.transaction(|tx| svc::register(tx, &user, &body, key.as_deref(), now)) {
            Ok(id) => id,
            // A concurrent retry with the same key won the race (its insert, or its seal
            // numbers, came first): answer with the sample it created.
            Err(e) if key.is_some() => match key.as_deref().map(by_key).transpose()?.flatten() {
                Some(id) => id,
                None => return Err(e),
            },
            Err(e) => return Err(e),
        };
        db.read(|tx| sample_view(tx, &user, id, now))
    })
    .await?;
    Ok(HttpResponse::Created().json(view))
}

/// `GET /api/v1/samples`: filtered, paginated list.
pub async fn list(
    state: web::Data<AppState>,
    Auth(user): Auth,
    filter: Query<SampleFilter>,
) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::ReadSamples)?;
    let db = state.db.clone();
    let page =
        blocking(move || db.read(|tx| svc::list(tx, &user, &filter, chrono::Utc::now()))).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// `GET /api/v1/samples/{key}`: one sample by id, sample code or lab code.
pub async fn get(
    state: web::Data<AppState>,
    auth: LazyAuth,
    key: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let db = state.db.clone();
    let view = blocking(move || {
        db.read(|tx| {
            let user = auth.user(tx)?;
            require(&user, Endpoint::ReadSamples)?;
            let id = svc::resolve(tx, &key)?;
            sample_view(tx, &user, id, chrono::Utc::now())
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `POST /api/v1/samples/{key}/determinations`: stores one determination and answers with the
/// server's precision outcome (accepted mean, one more needed, or discard and restart).
pub async fn enter_determination(
    state: web::Data<AppState>,
    auth: LazyAuth,
    key: web::Path<String>,
    body: web::Json<Object<NewDetermination>>,
) -> Result<HttpResponse, AppError> {
    let out = in_sample_tx_as(
        &state.db,
        auth,
        Endpoint::EnterDetermination,
        key.into_inner(),
        move |tx, user, id, now| entry::enter(tx, user, id, &body, now),
    )
    .await?;
    Ok(HttpResponse::Created().json(out))
}

/// `POST /api/v1/samples/{key}/{action}` with `{"version": n, "reason": …}`: a lifecycle
/// action (receive, start, submit, release, return, request_retest, close, reject, cancel).
pub async fn action(
    state: web::Data<AppState>,
    Auth(user): Auth,
    path: web::Path<(String, String)>,
    body: web::Json<Object<ActionRequest>>,
) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::SampleAction)?;
    let (key, action) = path.into_inner();
    let action = Action::from_code(&action)
        .map_err(|e| AppError::NotFound(format!("no such sample action: {e}")))?;
    let view = in_sample_tx_then_view(&state.db, user, key, move |tx, user, id, now| {
        workflow::apply_action(tx, user, id, action, &body, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `POST /api/v1/samples/{key}/result-received` with `{"version", "received_at"}`: when the
/// enterprise received the initial result (starts the appeal window).
pub async fn result_received(
    state: web::Data<AppState>,
    Auth(user): Auth,
    key: web::Path<String>,
    body: web::Json<Object<ResultReceived>>,
) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::RecordResultReceived)?;
    let view = in_sample_tx_then_view(
        &state.db,
        user,
        key.into_inner(),
        move |tx, user, id, now| workflow::record_result_received(tx, user, id, &body, now),
    )
    .await?;
    Ok(HttpResponse::Ok().json(view))
}
