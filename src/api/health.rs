//! `/health` (alive and the database answers) and `/ready` (migrations current).

use actix_web::{web, HttpResponse};

use crate::api::{blocking, AppState};
use crate::db::migrate::migrations_current;
use crate::error::AppError;

/// `GET /health`: 200 `{"status":"ok"}` when the database answers a trivial query.
pub async fn health(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let db = state.db.clone();
    blocking(move || {
        db.read(|tx| {
            crate::with_tx!(tx, |c| diesel::select(diesel::dsl::sql::<
                diesel::sql_types::Integer,
            >("1"))
            .get_result::<i32>(c))?;
            Ok(())
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ok"})))
}

/// `GET /ready`: 200 when the database answers and every migration is applied, else 503.
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let db = state.db.clone();
    let current = blocking(move || migrations_current(&db)).await?;
    if current {
        Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready"})))
    } else {
        Err(AppError::Unavailable(
            "database migrations are pending".into(),
        ))
    }
}
