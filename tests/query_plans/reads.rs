//! The read paths: lists with each filter as each role, reports, statistics, charts, the audit
//! trail, and the periodic jobs of `coallab serve`.

use coallab::db::Db;

use crate::drive::{Client, ADMIN, AUDITOR, REGULATOR, REVIEWER, TECH};
use crate::phase;

/// Reads every list, report, statistic and chart with its filters, as each role (`id1`: a
/// sample with an audit trail).
pub fn reads(c: &Client, db: &Db, id1: i64) {
    // The sample list, as each role, with each filter.
    let filters = [
        "",
        "?supplier=SP-04",
        "?town=filler%20town%207",
        "?state=closed",
        "?state=initial_testing",
        "?verdict=fail",
        "?stage=retest",
        "?overdue=true",
        "?overdue=false",
        "?from=2025-01-01&to=2025-12-31",
        "?from=2026-11-01",
        "?page=3&per_page=20",
        "?supplier=SP-04&verdict=fail&from=2020-01-01&to=2026-12-31",
        "?state=initial_released&overdue=false",
    ];
    for token in [TECH, REVIEWER, REGULATOR, AUDITOR, ADMIN] {
        for f in filters {
            if token == TECH && (f.contains("supplier=") || f.contains("town=")) {
                continue;
            }
            c.get(&format!("/api/v1/samples{f}"), token).ok();
        }
    }

    // Regulator reports, TAT and overdue, with their filters.
    for token in [REGULATOR, REVIEWER] {
        for f in [
            "",
            "?from=2025-11-01&to=2026-03-31",
            "?from=2021-01-01&to=2021-12-31&town=filler%20town%203",
            "?kind=production_enterprise&verdict=fail",
            "?stage=retest&from=2024-01-01",
            "?format=csv",
        ] {
            c.get(&format!("/api/v1/reports/suppliers{f}"), token).ok();
        }
        for f in [
            "",
            "?from=2025-11-01&to=2026-03-31",
            "?town=filler%20town%203",
        ] {
            c.get(&format!("/api/v1/reports/non-compliant{f}"), token)
                .ok();
        }
    }
    for g in [
        "stage",
        "period-week",
        "period-month",
        "supplier",
        "technician",
        "lab",
    ] {
        c.get(
            &format!("/api/v1/reports/tat?from=2025-11-01&to=2026-03-31&group_by={g}"),
            AUDITOR,
        )
        .ok();
    }
    c.get(
        "/api/v1/reports/tat?from=2026-01-01&to=2026-12-31&stage=retest&format=csv",
        AUDITOR,
    )
    .ok();
    c.get(
        "/api/v1/reports/overdue?from=2026-01-01&to=2026-12-31",
        AUDITOR,
    )
    .ok();

    // Statistics and charts.
    for p in [
        "/api/v1/suppliers/SP-04/stats?parameter=std",
        "/api/v1/suppliers/SP-04/stats?parameter=ad&from=2025-11-01&to=2026-03-31",
        "/api/v1/suppliers/SP-04/chart.svg",
        "/api/v1/suppliers/SP-04/chart.png?parameters=std",
        "/api/v1/stats/ranking?parameter=std",
        "/api/v1/stats/ranking?parameter=ad&from=2025-11-01&to=2026-03-31",
        "/api/v1/charts/comparison.svg?parameter=ad",
        "/api/v1/charts/comparison.png?parameter=std&from=2025-11-01",
    ] {
        c.get(p, REGULATOR).ok();
    }

    // The audit trail with each filter, and the chain check (excluded: a full pass by nature).
    for f in [
        "?per_page=5",
        "?page=4&per_page=50",
        &format!("?sample_id={id1}"),
        "?actor=tech-wang&per_page=20",
        "?action=sample.release&per_page=20",
        "?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z",
        "?actor=tech-wang&action=determination.enter&from=2025-12-01T00:00:00Z",
    ] {
        c.get(&format!("/api/v1/audit{f}"), AUDITOR).ok();
    }
    let verify = c.get("/api/v1/audit/verify", AUDITOR).ok();
    assert_eq!(verify["ok"], true, "{verify}");

    // The periodic jobs of `coallab serve`: closing lapsed appeal windows, purging sessions.
    phase("job: appeal_close::close_expired");
    coallab::service::appeal_close::close_expired(db, chrono::Utc::now()).expect("close job");
    phase("job: users_session::purge_expired");
    db.transaction(|tx| {
        coallab::service::users_session::purge_expired(tx, chrono::Utc::now().timestamp_millis())
    })
    .expect("purge sessions");
}
