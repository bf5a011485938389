//! One error type for the service, mapped once to an HTTP status and a JSON body
//! `{"error": code, "message": human text}`. Database text never reaches a client.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;

/// Everything that can go wrong in a request or a command.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed (bad JSON, missing field, unknown parameter): 400.
    #[error("{message}")]
    BadRequest {
        /// Stable snake_case code.
        code: &'static str,
        /// Human text.
        message: String,
    },
    /// Well-formed but refused by a rule (a negative value, Mad ≥ 100, unknown supplier): 422.
    #[error("{message}")]
    Invalid {
        /// Stable snake_case code.
        code: &'static str,
        /// Human text.
        message: String,
    },
    /// The resource does not exist (or the caller may not know it exists): 404.
    #[error("{0}")]
    NotFound(String),
    /// A state conflict: stale version, illegal transition, duplicate: 409.
    #[error("{message}")]
    Conflict {
        /// Stable snake_case code.
        code: &'static str,
        /// Human text.
        message: String,
    },
    /// No or bad credentials: 401.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, but the role may not do this: 403.
    #[error("{0}")]
    Forbidden(String),
    /// The database cannot be reached: 503.
    #[error("{0}")]
    Unavailable(String),
    /// Wrong settings or a failed start-up step: 500 (CLI prints it).
    #[error("{0}")]
    Config(String),
    /// A database error; mapped by its kind (unique → 409, foreign key/check → 422, else 500).
    #[error("database error: {0}")]
    Database(#[from] DieselError),
    /// A bug or an unexpected failure: 500.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Whether a database error of no specific kind is contention between concurrent writers that
/// a retry resolves: PostgreSQL's "deadlock detected" (40P01) and "could not obtain lock"
/// (55P03), SQLite's "database is locked" / "database is busy" after the busy timeout (several
/// servers on one file). diesel reports these as `Unknown`, without the SQLSTATE, so the
/// message decides. Such errors answer `409 retry`, never 500.
pub fn is_contention(message: &str) -> bool {
    [
        "deadlock detected",
        "could not obtain lock",
        "database is locked",
        "database is busy",
    ]
    .iter()
    .any(|m| message.contains(m))
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: String,
}

impl AppError {
    /// Shorthand for a 422 with a code.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Invalid {
            code,
            message: message.into(),
        }
    }

    /// Shorthand for a 409 with a code.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Conflict {
            code,
            message: message.into(),
        }
    }

    /// The 409 `version_conflict` of a guarded update that found the row changed by a
    /// concurrent writer (optimistic locking).
    pub fn concurrent_change() -> Self {
        AppError::conflict(
            "version_conflict",
            "the sample was changed concurrently: reload it and try again",
        )
    }

    /// Shorthand for a 400 with a code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        AppError::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// The stable error code sent to clients.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest { code, .. }
            | AppError::Invalid { code, .. }
            | AppError::Conflict { code, .. } => code,
            AppError::NotFound(_) => "not_found",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::Unavailable(_) => "unavailable",
            AppError::Config(_) => "configuration",
            AppError::Database(e) => match e {
                DieselError::NotFound => "not_found",
                DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                    "already_exists"
                }
                DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                    "unknown_reference"
                }
                DieselError::DatabaseError(DatabaseErrorKind::CheckViolation, _)
                | DieselError::DatabaseError(DatabaseErrorKind::NotNullViolation, _) => {
                    "constraint_violated"
                }
                DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => "retry",
                DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)
                    if is_contention(info.message()) =>
                {
                    "retry"
                }
                _ => "internal",
            },
            AppError::Internal(_) => "internal",
        }
    }

    /// The message sent to clients: database and internal details are replaced by plain text.
    pub fn client_message(&self) -> String {
        match self {
            AppError::Database(e) => match e {
                DieselError::NotFound => "not found".into(),
                DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                    "a record with the same unique key already exists".into()
                }
                DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                    "a referenced record does not exist".into()
                }
                DieselError::DatabaseError(DatabaseErrorKind::CheckViolation, _)
                | DieselError::DatabaseError(DatabaseErrorKind::NotNullViolation, _) => {
                    "a value breaks a rule of the database schema".into()
                }
                DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                    "the database was busy with a concurrent change; retry".into()
                }
                DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)
                    if is_contention(info.message()) =>
                {
                    "the database was busy with a concurrent change; retry".into()
                }
                _ => "internal error".into(),
            },
            AppError::Internal(_) | AppError::Config(_) => "internal error".into(),
            other => other.to_string(),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Database(_) => match self.code() {
                "not_found" => StatusCode::NOT_FOUND,
                "already_exists" | "retry" => StatusCode::CONFLICT,
                "unknown_reference" | "constraint_violated" => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            AppError::Config(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %self, code = self.code(), "request failed");
        }
        let mut res = HttpResponse::build(status);
        if matches!(self, AppError::Unauthorized(_)) {
            res.insert_header(("WWW-Authenticate", "Bearer"));
        }
        res.json(ErrorBody {
            error: self.code(),
            message: self.client_message(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unknown(message: &str) -> AppError {
        AppError::Database(DieselError::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new(message.to_string()),
        ))
    }

    #[test]
    fn contention_between_writers_is_a_409_retry_not_a_500() {
        for m in [
            "deadlock detected",
            "database is locked",
            "could not obtain lock on row in relation \"samples\"",
        ] {
            let e = unknown(m);
            assert_eq!(
                (e.code(), e.status_code()),
                ("retry", StatusCode::CONFLICT),
                "{m}"
            );
        }
        let other = unknown("syntax error at or near \"SELEC\"");
        assert_eq!(
            (other.code(), other.status_code()),
            ("internal", StatusCode::INTERNAL_SERVER_ERROR)
        );
    }
}
