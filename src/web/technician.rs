//! The lab's pages: the worklist (due soon and overdue highlighted), registering a sample, and a
//! sample's bench page: lifecycle actions (receive, start, submit, and for reviewers release or
//! return), entering determinations with the server's precision decision shown at once, the
//! converted results and the verdict preview. Every change goes through the service functions
//! the JSON API uses.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::api::access::Endpoint;
use crate::api::sample_tx::in_sample_tx;
use crate::api::{blocking, AppState};
use crate::domain::lifecycle::{Action, SampleState};
use crate::error::AppError;
use crate::service::entry::{self, NewDetermination};
use crate::service::preview::stage_preview;
use crate::service::samples::{self as svc, NewSample, SampleFilter, SampleSummary};
use crate::service::view::sample_view;
use crate::service::workflow::{self, ActionRequest};
use crate::web::auth::Ui;
use crate::web::page::{see_other, Flash, WebError};

/// A stage due within this many hours is highlighted as "due soon" on the worklist.
pub const DUE_SOON_HOURS: i64 = 24;

/// One worklist line: the sample and its urgency.
#[derive(Debug, Serialize)]
pub struct WorkItem {
    /// The sample.
    #[serde(flatten)]
    pub sample: SampleSummary,
    /// Due within [`DUE_SOON_HOURS`] and not yet overdue.
    pub due_soon: bool,
}

/// The samples of `states` in the user's lab (the service keeps technicians to their lab),
/// earliest due first (samples without a due instant last).
pub(crate) fn samples_in_states(
    state: &AppState,
    ui: &Ui,
    states: &'static [SampleState],
) -> impl std::future::Future<Output = Result<Vec<WorkItem>, AppError>> {
    let db = state.db.clone();
    let user = ui.user.clone();
    blocking(move || {
        let now = Utc::now();
        let mut items = Vec::new();
        db.read(|tx| {
            for s in states {
                let filter = SampleFilter {
                    state: Some(s.as_code().to_string()),
                    per_page: Some(svc::MAX_PER_PAGE),
                    ..Default::default()
                };
                items.extend(svc::list(tx, &user, &filter, now)?.items);
            }
            Ok(())
        })?;
        let mut out: Vec<WorkItem> = items
            .into_iter()
            .map(|s| WorkItem {
                due_soon: due_soon(s.due_at.as_deref(), s.overdue, now),
                sample: s,
            })
            .collect();
        out.sort_by(|a, b| {
            let key = |w: &WorkItem| (w.sample.due_at.is_none(), w.sample.due_at.clone());
            key(a).cmp(&key(b)).then(a.sample.id.cmp(&b.sample.id))
        });
        Ok(out)
    })
}

/// Due within [`DUE_SOON_HOURS`] of `now` and not already overdue (`due_at` RFC 3339).
pub fn due_soon(due_at: Option<&str>, overdue: bool, now: DateTime<Utc>) -> bool {
    let soon = now + chrono::Duration::hours(DUE_SOON_HOURS);
    !overdue
        && due_at
            .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
            .is_some_and(|d| d <= soon)
}

const IN_PROGRESS: &[SampleState] = &[
    SampleState::Registered,
    SampleState::Received,
    SampleState::InitialTesting,
    SampleState::InitialReview,
    SampleState::RetestTesting,
    SampleState::RetestReview,
];

/// `GET /ui/lab`: the lab's samples in progress.
///
/// # Errors
/// Login, 403 or the service's error as a page.
pub async fn worklist(state: web::Data<AppState>, ui: Ui) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiLab)?;
    let items = samples_in_states(&state, &ui, IN_PROGRESS)
        .await
        .map_err(|e| ui.fail(e))?;
    ui.page("worklist.html", serde_json::json!({ "items": items }))
}

/// The registration form's fields (two samplers at least, GB 475-2008 practice).
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct RegisterFields {
    /// CSRF token.
    #[serde(skip_serializing)]
    #[serde(default)]
    pub csrf_token: String,
    /// Supplier code.
    pub supplier_code: String,
    /// First sampler.
    pub sampler1: String,
    /// Second sampler.
    pub sampler2: String,
    /// `YYYY-MM-DDTHH:MM`, Beijing time (an `<input type=datetime-local>`).
    pub sampled_at: String,
    /// Coal category.
    #[serde(default)]
    pub coal_category: String,
    /// Seal of the test portion.
    pub test_seal_no: String,
    /// Seal of the retained sample.
    pub retained_seal_no: String,
}

/// A `datetime-local` value typed in Beijing time as RFC 3339 (`…:00+08:00`); full RFC 3339
/// passes unchanged. The service validates the result.
pub fn local_input_to_rfc3339(v: &str) -> String {
    let v = v.trim();
    match v.len() {
        16 => format!("{v}:00+08:00"),
        19 if !v.ends_with('Z') => format!("{v}+08:00"),
        _ => v.to_string(),
    }
}

/// Now in Beijing time as a `datetime-local` value with seconds (a receipt must not lie before
/// the release a minute ago, which truncating to the minute could make it).
pub fn local_now_input() -> String {
    Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// `GET /ui/lab/register`: the registration form.
///
/// # Errors
/// Login or 403.
pub async fn register_page(ui: Ui) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiLab)?;
    let fields = RegisterFields {
        sampled_at: local_now_input(),
        ..Default::default()
    };
    ui.page(
        "register.html",
        serde_json::json!({ "f": fields, "error": null }),
    )
}

/// `POST /ui/lab/register`: registers the sample with `samples::register` and opens its page;
/// a refusal shows the form again with the values typed and the reason.
///
/// # Errors
/// Login, 403, or a CSRF mismatch.
pub async fn register(
    state: web::Data<AppState>,
    ui: Ui,
    form: web::Form<RegisterFields>,
) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiLab)?;
    ui.check_csrf(&form.csrf_token)?;
    let f = form.into_inner();
    let input: Result<NewSample, AppError> = serde_json::from_value(serde_json::json!({
        "supplier_code": f.supplier_code.trim(),
        "samplers": [f.sampler1.trim(), f.sampler2.trim()],
        "sampled_at": local_input_to_rfc3339(&f.sampled_at),
        "coal_category": f.coal_category.trim(),
        "test_seal_no": f.test_seal_no.trim(),
        "retained_seal_no": f.retained_seal_no.trim(),
    }))
    .map_err(|e| AppError::invalid("invalid_value", e.to_string()));
    let db = state.db.clone();
    let user = ui.user.clone();
    let done = match input {
        Ok(input) => {
            blocking(move || {
                let now = Utc::now();
                let id = db.transaction(|tx| svc::register(tx, &user, &input, None, now))?;
                let code = db.read(|tx| Ok(svc::load(tx, id)?.sample_code))?;
                Ok((id, code))
            })
            .await
        }
        Err(e) => Err(e),
    };
    match done {
        Ok((id, code)) => Ok(see_other(
            &format!("/ui/lab/samples/{id}"),
            Some(Flash::ok("lab.registered", code)),
        )),
        Err(e) => {
            let error = Flash::from_error(&e);
            ui.page_with(
                e.status_code_html(),
                "register.html",
                serde_json::json!({ "f": f, "error": error }),
            )
        }
    }
}

/// HTTP status of a refused form (the service's own status).
trait StatusOf {
    fn status_code_html(&self) -> StatusCode;
}

impl StatusOf for AppError {
    fn status_code_html(&self) -> StatusCode {
        actix_web::ResponseError::status_code(self)
    }
}

/// `GET /ui/lab/samples/{id}`: the bench page of one sample.
///
/// # Errors
/// Login, 403, 404 for a sample of another lab.
pub async fn sample_page(
    state: web::Data<AppState>,
    ui: Ui,
    key: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiLab)?;
    let db = state.db.clone();
    let user = ui.user.clone();
    let (view, preview) = blocking(move || {
        db.read(|tx| {
            let now = Utc::now();
            let id = svc::resolve(tx, &key)?;
            let view = sample_view(tx, &user, id, now)?;
            let preview = stage_preview(tx, id)?;
            Ok((view, preview))
        })
    })
    .await
    .map_err(|e| ui.fail(e))?;
    let testing = matches!(view.state.as_str(), "initial_testing" | "retest_testing");
    ui.page(
        "lab_sample.html",
        serde_json::json!({
            "s": view,
            "preview": preview,
            "testing": testing,
            // Only analyses with a repeatability table can be entered (Had has none).
            "analyses": crate::domain::terms::Analysis::ALL
                .iter()
                .filter(|a| crate::domain::precision_table::default_table(**a).is_some())
                .map(|a| a.as_code())
                .collect::<Vec<_>>(),
        }),
    )
}

/// The determination form.
#[derive(Debug, Deserialize)]
pub struct DeterminationFields {
    /// CSRF token.
    #[serde(default)]
    pub csrf_token: String,
    /// Analysis code.
    pub analysis: String,
    /// The value as typed.
    pub value: String,
}

/// `POST /ui/lab/samples/{id}/determinations`: stores one determination with `entry::enter`
/// and shows the server's decision on the sample page (accepted mean, one more needed, or
/// discard and restart).
///
/// # Errors
/// Login, 403, or a CSRF mismatch; refusals of the service come back as the page's message.
pub async fn enter_determination(
    state: web::Data<AppState>,
    ui: Ui,
    key: web::Path<String>,
    form: web::Form<DeterminationFields>,
) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiLab)?;
    ui.check_csrf(&form.csrf_token)?;
    let key = key.into_inner();
    let back = format!("/ui/lab/samples/{key}");
    let f = form.into_inner();
    let input = NewDetermination {
        analysis: f.analysis.trim().to_string(),
        value: serde_json::Value::String(f.value.trim().to_string()),
    };
    let user = ui.user.clone();
    let out = in_sample_tx(&state.db, key, move |tx, id, now| {
        entry::enter(tx, &user, id, &input, now)
    })
    .await;
    let flash = match out {
        Ok(o) => {
            let precision = serde_json::to_value(&o.precision).unwrap_or_default();
            let code = precision["outcome"]
                .as_str()
                .unwrap_or("accepted")
                .to_string();
            let level = match code.as_str() {
                "accepted" => "ok",
                "needs_another_determination" => "info",
                _ => "error",
            };
            // After a single determination nothing is over r yet: just ask for the second.
            let key = if code == "needs_another_determination" && precision["range"].is_null() {
                "outcome.needs_second".to_string()
            } else {
                format!("outcome.{code}")
            };
            let mut flash = Flash::new(level, &key, "");
            flash.outcome = Some(serde_json::json!({
                "analysis": o.analysis.as_code(),
                "run": o.run,
                "determinations": o.determinations,
                "precision": precision,
            }));
            flash
        }
        Err(e) => Flash::from_error(&e),
    };
    Ok(see_other(&back, Some(flash)))
}

/// The lifecycle action form.
#[derive(Debug, Deserialize)]
pub struct ActionFields {
    /// CSRF token.
    #[serde(default)]
    pub csrf_token: String,
    /// Action code (receive, start, submit, release, return, reject, cancel, close).
    pub action: String,
    /// The sample version shown on the page.
    pub version: i32,
    /// Reason (return, reject, cancel).
    #[serde(default)]
    pub reason: String,
    /// Where to go afterwards (a `/ui` path).
    pub back: Option<String>,
}

/// `POST /ui/lab/samples/{id}/action`: a lifecycle action with `workflow::apply_action` (the
/// lifecycle rule checks the role per action: release and return are the reviewer's).
///
/// # Errors
/// Login, 403, or a CSRF mismatch; refusals of the service come back as the page's message.
pub async fn action(
    state: web::Data<AppState>,
    ui: Ui,
    key: web::Path<String>,
    form: web::Form<ActionFields>,
) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiLab)?;
    ui.check_csrf(&form.csrf_token)?;
    let key = key.into_inner();
    let f = form.into_inner();
    let back = crate::web::page::safe_back(
        f.back
            .as_deref()
            .or(Some(&format!("/ui/lab/samples/{key}"))),
    );
    let action = match Action::from_code(f.action.trim()) {
        Ok(a) => a,
        Err(e) => {
            let e = AppError::invalid("invalid_value", e.to_string());
            return Ok(see_other(&back, Some(Flash::from_error(&e))));
        }
    };
    let req = ActionRequest {
        version: f.version,
        reason: Some(f.reason.trim().to_string()).filter(|r| !r.is_empty()),
        ..Default::default()
    };
    let user = ui.user.clone();
    let out = in_sample_tx(&state.db, key, move |tx, id, now| {
        workflow::apply_action(tx, &user, id, action, &req, now)
    })
    .await;
    let flash = match out {
        Ok(()) => Flash::ok(&format!("action.{}", action.as_code()), ""),
        Err(e) => Flash::from_error(&e),
    };
    Ok(see_other(&back, Some(flash)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_soon_means_within_24_hours_and_not_overdue() {
        let now = DateTime::parse_from_rfc3339("2026-11-30T02:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        // 2026-12-01T02:00Z is exactly 24 h later: still "due soon"; a minute more is not.
        assert!(due_soon(Some("2026-12-01T02:00:00Z"), false, now));
        assert!(!due_soon(Some("2026-12-01T02:01:00Z"), false, now));
        assert!(due_soon(Some("2026-11-30T10:00:00+08:00"), false, now));
        // Overdue wins over due soon; no due instant (registered) is neither.
        assert!(!due_soon(Some("2026-11-30T01:00:00Z"), true, now));
        assert!(!due_soon(None, false, now));
    }

    #[test]
    fn datetime_local_is_read_as_beijing_time() {
        assert_eq!(
            local_input_to_rfc3339("2026-11-30T09:30"),
            "2026-11-30T09:30:00+08:00"
        );
        assert_eq!(
            local_input_to_rfc3339("2026-11-30T09:30:15"),
            "2026-11-30T09:30:15+08:00"
        );
        assert_eq!(
            local_input_to_rfc3339("2026-11-30T01:30:00Z"),
            "2026-11-30T01:30:00Z"
        );
    }
}
