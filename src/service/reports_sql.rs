//! SQL building blocks shared by the reports: raw queries with bound parameters on either
//! backend, the working-time clock W(t), and the "effective state" of a sample.
//!
//! Report queries aggregate in the database (GROUP BY, window functions) and are written as SQL
//! text that both SQLite (≥ 3.25) and PostgreSQL accept: no backend-specific functions (no
//! GREATEST/MAX(a, b), no string_agg/group_concat, no percentile_cont); every SUM is cast to
//! BIGINT because PostgreSQL sums BIGINT into NUMERIC.

use diesel::pg::Pg;
use diesel::query_builder::QueryFragment;
use diesel::query_dsl::RunQueryDsl;
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::Sqlite;
use diesel::QueryableByName;

use crate::db::Tx;
use crate::error::AppError;

/// One bound parameter of a report query (`?` in the SQL text, in order).
#[derive(Debug, Clone)]
pub enum Bind {
    /// A text value.
    Text(String),
    /// A 64-bit integer (instants in ms, ids).
    Int(i64),
}

/// `?` placeholders → `$1, $2, …` for PostgreSQL. The report SQL never holds `?` in a literal.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(ch);
        }
    }
    out
}

/// Runs a report query with `binds` on whichever backend `tx` is and loads its rows.
///
/// # Errors
/// [`AppError::Database`] when the query fails.
pub fn load_rows<T>(tx: &mut Tx<'_>, sql: &str, binds: &[Bind]) -> Result<Vec<T>, AppError>
where
    T: QueryableByName<Sqlite> + QueryableByName<Pg> + 'static,
{
    fn bound<'a, DB>(
        mut q: diesel::query_builder::BoxedSqlQuery<'a, DB, diesel::query_builder::SqlQuery>,
        binds: &[Bind],
    ) -> diesel::query_builder::BoxedSqlQuery<'a, DB, diesel::query_builder::SqlQuery>
    where
        DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<Text>,
        DB: diesel::sql_types::HasSqlType<BigInt>,
        String: diesel::serialize::ToSql<Text, DB>,
        i64: diesel::serialize::ToSql<BigInt, DB>,
        diesel::query_builder::SqlQuery: QueryFragment<DB>,
    {
        for b in binds {
            q = match b {
                Bind::Text(s) => q.bind::<Text, _>(s.clone()),
                Bind::Int(i) => q.bind::<BigInt, _>(*i),
            };
        }
        q
    }
    Ok(match tx {
        Tx::Sqlite(c) => {
            let q = bound(diesel::sql_query(sql).into_boxed::<Sqlite>(), binds);
            q.load::<T>(&mut **c)?
        }
        Tx::Pg(c) => {
            let q = bound(diesel::sql_query(numbered(sql)).into_boxed::<Pg>(), binds);
            q.load::<T>(&mut **c)?
        }
    })
}

/// `CASE` form of the larger of two SQL expressions (portable GREATEST).
pub fn greatest(a: &str, b: &str) -> String {
    format!("(CASE WHEN {a} > {b} THEN {a} ELSE {b} END)")
}

/// `CASE` form of the smaller of two SQL expressions (portable LEAST).
pub fn least(a: &str, b: &str) -> String {
    format!("(CASE WHEN {a} < {b} THEN {a} ELSE {b} END)")
}

/// W(t): working time in ms from the start of the clock of (`cc`, `tz`) — SQL expressions for
/// the lab's calendar code and time zone — to the instant `t` (an SQL expression in ms), read
/// from the `working_clock` row of the local day holding `t` (an index seek on its primary key).
/// Differences W(b) − W(a) are the working time in [a, b) of `WorkingCalendar::working_duration`
/// without pauses (src/domain/working_time.rs): whole local working days, in milliseconds.
pub fn working_ms(t: &str, cc: &str, tz: &str) -> String {
    format!(
        "(SELECT wc.cum_before + wc.working * (({t}) - wc.day_start) FROM working_clock wc \
         WHERE wc.calendar_code = {cc} AND wc.timezone = {tz} AND wc.day_start <= ({t}) \
         ORDER BY wc.day_start DESC LIMIT 1)"
    )
}

/// A column of the `working_clock` row of the local day holding `t` (e.g. `day`, `iso_week`).
pub fn clock_column(column: &str, t: &str, cc: &str, tz: &str) -> String {
    format!(
        "(SELECT wc.{column} FROM working_clock wc WHERE wc.calendar_code = {cc} \
         AND wc.timezone = {tz} AND wc.day_start <= ({t}) ORDER BY wc.day_start DESC LIMIT 1)"
    )
}

/// The CTE that carries the report's instant "now" (ms) as a bound parameter: a statement that
/// uses [`NOW`] (through [`appeal_lapsed`], [`effective_state`] or [`effective_closed_at`])
/// starts with `WITH {NOW_CTE}, …` and binds now first. Binding it, instead of writing the
/// instant into the SQL text, keeps the text of a request's statement the same on every request
/// (the text that tests/query_plans/ explains is the one that runs). Note that diesel prepares
/// `sql_query` statements anew on every execution (it never caches them), bound or not.
pub const NOW_CTE: &str = "now_v AS (SELECT CAST(? AS BIGINT) AS t)";

/// The report's instant "now" (ms) in SQL, from [`NOW_CTE`]: a constant scalar subquery,
/// evaluated once per statement.
pub const NOW: &str = "(SELECT now_v.t FROM now_v)";

/// The condition under which a sample `s` in state `initial_released` (a failed initial test;
/// a pass closes at once) counts as closed at [`NOW`]: its appeal window has ended with no
/// retest requested. The window is open while `at < appeal_closes_at`
/// (`domain::deadline::appeal_open`), so it has ended when `appeal_closes_at <= now`; the
/// workflow (src/service/workflow.rs `Close`) allows closing from that same instant.
pub fn appeal_lapsed() -> String {
    format!(
        "(s.state = 'initial_released' AND s.appeal_closes_at IS NOT NULL \
         AND s.appeal_closes_at <= {NOW})"
    )
}

/// The effective state of sample `s` at [`NOW`]: its stored state, except that a failed
/// initial test whose appeal window has lapsed is `closed` (with the initial verdict final).
pub fn effective_state() -> String {
    format!(
        "(CASE WHEN {} THEN 'closed' ELSE s.state END)",
        appeal_lapsed()
    )
}

/// When sample `s` became final, in the effective view at [`NOW`]; NULL while not final. A
/// failed initial test that nobody appealed became final when its appeal window ended
/// (`appeal_closes_at`), whenever the close was recorded (by hand, by the closing job of
/// src/service/appeal_close.rs, or not yet); any other closed sample at its `closed_at` (the
/// release of a passing initial test or of the retest).
pub fn effective_closed_at() -> String {
    format!(
        "(CASE WHEN {lapsed} OR (s.state = 'closed' AND s.retest_requested_at IS NULL \
         AND s.appeal_closes_at IS NOT NULL) THEN s.appeal_closes_at \
         WHEN s.state = 'closed' THEN s.closed_at END)",
        lapsed = appeal_lapsed()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(numbered("a = ? AND b = ?"), "a = $1 AND b = $2");
    }

    #[test]
    fn portable_min_max() {
        assert_eq!(greatest("a", "b"), "(CASE WHEN a > b THEN a ELSE b END)");
        assert_eq!(least("a", "b"), "(CASE WHEN a < b THEN a ELSE b END)");
    }
}
