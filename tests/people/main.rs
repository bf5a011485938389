//! PEOPLE (issue 4) acceptance tests at the service level, with explicit instants: four eyes,
//! immutability of released stages, amendments, the appeal window, the retest, closing expired
//! windows, passwords and the login throttle, and the audit chain under tampering and under
//! concurrent writers. The database tests run on SQLite and on PostgreSQL (`pg_` prefix).

#[path = "../people_support/mod.rs"]
mod people_support;

use chrono::{DateTime, Duration, Utc};
use coallab::db::schema::{audit_events, samples, stages};
use coallab::db::{Db, Tx};
use coallab::domain::lifecycle::Action;
use coallab::error::AppError;
use coallab::service::amend::{self, AmendRequest, AmendedAnalysis};
use coallab::service::amend_release::{self, ReleaseAmendment};
use coallab::service::appeal_close::close_expired;
use coallab::service::audit::{self, AuditEvent};
use coallab::service::samples as sample_svc;
use coallab::service::workflow::ActionRequest;
use coallab::with_tx;
use diesel::connection::SimpleConnection;
use people_support::*;

macro_rules! both {
    ($scenario:ident => $sqlite:ident, $pg:ident) => {
        #[test]
        fn $sqlite() {
            $scenario(Backend::Sqlite);
        }
        #[test]
        fn $pg() {
            $scenario(Backend::Postgres);
        }
    };
}

fn t0() -> DateTime<Utc> {
    local(2026, 3, 1, 8, 0)
}

fn code(e: AppError) -> &'static str {
    e.code()
}

fn release(db: &Db, p: &People, id: i64) -> Result<(), AppError> {
    act(
        db,
        &p.reviewer,
        id,
        Action::Release,
        ActionRequest::default(),
        local(2026, 3, 5, 10, 0),
    )
}

fn sample(db: &Db, id: i64) -> coallab::service::rows::SampleRow {
    db.read(|tx| sample_svc::load(tx, id)).unwrap()
}

fn exec(db: &Db, sql: &str) {
    db.read(|tx| {
        match tx {
            Tx::Sqlite(c) => c.batch_execute(sql)?,
            Tx::Pg(c) => c.batch_execute(sql)?,
        }
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn actions(db: &Db, sample_id: i64) -> Vec<(String, String)> {
    db.read(|tx| {
        Ok(with_tx!(tx, |c| audit_events::table
            .filter(audit_events::sample_id.eq(sample_id))
            .order(audit_events::seq.asc())
            .select((audit_events::actor, audit_events::action))
            .load::<(String, String)>(c))?)
    })
    .unwrap()
}

mod chain;
mod login;
mod workflow;
