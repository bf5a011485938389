//! Authorization in one place: which roles may call which endpoint.

use crate::domain::terms::Role;
use crate::error::AppError;
use crate::service::auth::CurrentUser;

/// Every authenticated endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// GET /api/v1/me
    Me,
    /// GET suppliers, jurisdictions, limit sets, calendars.
    ReadReference,
    /// POST suppliers, limit sets, imports.
    WriteReference,
    /// GET /api/v1/suppliers and /suppliers/{code} (not technicians: they work on blind lab
    /// codes and never see suppliers).
    ReadSuppliers,
    /// GET /api/v1/samples and /samples/{key}.
    ReadSamples,
    /// POST /api/v1/samples.
    RegisterSample,
    /// POST /api/v1/samples/{key}/determinations.
    EnterDetermination,
    /// POST /api/v1/samples/{key}/{action} (the lifecycle rule then checks the role per action).
    SampleAction,
    /// POST /api/v1/samples/{key}/result-received.
    RecordResultReceived,
    /// GET /api/v1/audit and /audit/verify.
    ReadAudit,
    /// GET supplier statistics and charts, the risk ranking and the comparison chart
    /// (not technicians: they work blind and do not see suppliers).
    ReadStats,
    /// GET /api/v1/reports/status, /reports/suppliers, /reports/non-compliant.
    RegulatorReports,
    /// GET /api/v1/reports/tat and /reports/overdue.
    TatReport,
    /// GET /api/v1/reports/documents/{report_no} (test report HTML/PDF; issues its verification code).
    ReportDocument,
    /// GET /api/v1/retained-samples/due.
    ReadRetained,
    /// POST /api/v1/samples/{key}/discard-retained.
    DiscardRetained,
    /// POST /api/v1/samples/{key}/amendments and /amendments/release (four eyes: the service
    /// refuses a release by the proposer).
    Amend,
    /// Web interface (src/web): `/ui/` the start page, for every signed-in role.
    UiHome,
    /// Web interface: `/ui/lab…` the lab worklist, registering a sample, the sample's bench
    /// page (determinations, lifecycle actions, converted results and verdict preview).
    UiLab,
    /// Web interface: `/ui/review` the review queue (release or return).
    UiReview,
    /// Web interface: `/ui/regulator…` the oversight dashboard, released samples, suppliers
    /// with their chart and statistics.
    UiOversight,
    /// Web interface: recording the enterprise's receipt of a result and its appeal (the
    /// retest request) on `/ui/regulator/samples/{key}`.
    UiAppeal,
    /// Web interface: `/ui/audit…` the turnaround report (with its CSV), the audit trail and
    /// the audit-chain check.
    UiAudit,
    /// Web interface: `/ui/admin…` reference data for administrators (the limit sets in force,
    /// with their sources).
    UiAdmin,
}

/// The roles allowed on an endpoint. This table is the whole of the authorization policy.
pub fn roles_for(endpoint: Endpoint) -> &'static [Role] {
    use Role::*;
    match endpoint {
        Endpoint::Me => &[Technician, Reviewer, Regulator, Auditor, Admin],
        Endpoint::ReadReference => &[Technician, Reviewer, Regulator, Auditor, Admin],
        Endpoint::WriteReference => &[Admin],
        Endpoint::ReadSuppliers => &[Reviewer, Regulator, Auditor, Admin],
        Endpoint::ReadSamples => &[Technician, Reviewer, Regulator, Auditor, Admin],
        Endpoint::RegisterSample => &[Technician, Reviewer],
        Endpoint::EnterDetermination => &[Technician, Reviewer],
        Endpoint::SampleAction => &[Technician, Reviewer, Regulator, Admin],
        Endpoint::RecordResultReceived => &[Regulator, Reviewer, Admin],
        Endpoint::ReadAudit => &[Auditor, Admin],
        Endpoint::ReadStats => &[Regulator, Auditor, Admin, Reviewer],
        Endpoint::RegulatorReports => &[Regulator, Auditor, Admin, Reviewer],
        Endpoint::TatReport => &[Auditor, Admin],
        Endpoint::ReportDocument => &[Reviewer, Regulator, Auditor, Admin],
        Endpoint::ReadRetained => &[Technician, Reviewer, Auditor, Admin],
        Endpoint::DiscardRetained => &[Technician, Reviewer, Admin],
        Endpoint::Amend => &[Reviewer],
        Endpoint::UiHome => &[Technician, Reviewer, Regulator, Auditor, Admin],
        Endpoint::UiLab => &[Technician, Reviewer],
        Endpoint::UiReview => &[Reviewer],
        Endpoint::UiOversight => &[Regulator, Auditor, Admin],
        Endpoint::UiAppeal => &[Regulator, Admin],
        Endpoint::UiAudit => &[Auditor, Admin],
        Endpoint::UiAdmin => &[Admin],
    }
}

/// Refuses a user whose role may not call `endpoint`.
///
/// # Errors
/// [`AppError::Forbidden`] naming the roles that may.
pub fn require(user: &CurrentUser, endpoint: Endpoint) -> Result<(), AppError> {
    let allowed = roles_for(endpoint);
    if allowed.contains(&user.role) {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "role {} may not do this; allowed: {}",
            user.role,
            allowed
                .iter()
                .map(|r| r.as_code())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A web page may not open to a role that the API it stands on refuses: each UI entry's
    /// roles lie within those of the API endpoints its pages call.
    #[test]
    fn ui_roles_lie_within_the_api_roles_they_use() {
        let within = |ui: Endpoint, api: &[Endpoint]| {
            for role in roles_for(ui) {
                for a in api {
                    assert!(
                        roles_for(*a).contains(role),
                        "{ui:?} lets {role:?} in, but {a:?} does not"
                    );
                }
            }
        };
        within(Endpoint::UiHome, &[Endpoint::Me]);
        within(
            Endpoint::UiLab,
            &[
                Endpoint::ReadSamples,
                Endpoint::RegisterSample,
                Endpoint::EnterDetermination,
                Endpoint::SampleAction,
            ],
        );
        within(
            Endpoint::UiReview,
            &[Endpoint::ReadSamples, Endpoint::SampleAction],
        );
        within(
            Endpoint::UiOversight,
            &[
                Endpoint::ReadSamples,
                Endpoint::ReadSuppliers,
                Endpoint::ReadStats,
                Endpoint::RegulatorReports,
            ],
        );
        within(
            Endpoint::UiAppeal,
            &[Endpoint::SampleAction, Endpoint::RecordResultReceived],
        );
        within(
            Endpoint::UiAdmin,
            &[Endpoint::ReadReference, Endpoint::WriteReference],
        );
        within(
            Endpoint::UiAudit,
            &[Endpoint::TatReport, Endpoint::ReadAudit],
        );
    }
}
