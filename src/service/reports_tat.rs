//! The turnaround-time (TAT) report for auditors (DESIGN.md "Deadlines and turnaround";
//! docs/reports.md): per stage and group, how many stages started, were released, were on time
//! or late, and the count, mean, median, 90th percentile and maximum of their turnaround in
//! working days and hours; plus the open stages past due at `as_of`.
//!
//! The database reads the stages started in the period from one covering index
//! (src/service/reports_tat_load.rs); the working time of each stage comes from the lab's
//! `working_clock` rows held in memory (src/service/reports_clock.rs, built with the domain
//! calendar), paused time from `stage_pauses` (overlapping pauses counted once), and the
//! statistics from src/domain/turnaround.rs. At 1 000 000 samples a year holds about 570 000
//! stages; computing W(t) twice per stage in the database (a correlated seek each) and joining
//! every stage to its wide `samples` row took 7–10 s, the same work here well under 2 s
//! (docs/performance.md).
//!
//! Reproducibility: a stage counts when it started before `as_of`; it is released at `as_of`
//! only if `released_at <= as_of`, else it is open; determinations count when entered at or
//! before `as_of`; a sample rejected or cancelled (audit event at or before `as_of`) drops its
//! unreleased stage. Later work therefore never changes a report with the same `as_of`.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::db::Tx;
use crate::domain::rounding::round_half_even;
use crate::domain::terms::Stage;
use crate::domain::turnaround::{
    summarize, turnaround_seconds, StageTurnaround, TurnaroundSummary, WorkingClock,
};
use crate::error::AppError;
use crate::service::reports_tat_load::{
    lab_clocks, period_pauses, period_stages, period_technicians, sample_labs_suppliers,
    stage_samples, supplier_codes, LabClocks, PeriodStage, NONE,
};
use crate::time::ms_to_rfc3339;

/// How the TAT report groups stages (always within each stage kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupBy {
    /// One group per stage kind.
    Stage,
    /// ISO week (Monday to Sunday) of the stage's start, in the lab's time zone, e.g. 2025-W40.
    PeriodWeek,
    /// Calendar month of the stage's start, in the lab's time zone, e.g. 2025-10.
    PeriodMonth,
    /// Supplier code.
    Supplier,
    /// Username of each person who entered determinations of the stage (a stage entered by two
    /// technicians counts in both groups; "(none)" when nobody had entered any by `as_of`).
    Technician,
    /// Lab code.
    Lab,
}

impl GroupBy {
    /// Parses `stage`, `period-week`, `period-month`, `supplier`, `technician` or `lab`.
    ///
    /// # Errors
    /// [`AppError::Invalid`] naming the legal values.
    pub fn parse(text: &str) -> Result<GroupBy, AppError> {
        Ok(match text.trim() {
            "stage" => GroupBy::Stage,
            "period-week" | "week" => GroupBy::PeriodWeek,
            "period-month" | "month" => GroupBy::PeriodMonth,
            "supplier" => GroupBy::Supplier,
            "technician" => GroupBy::Technician,
            "lab" => GroupBy::Lab,
            other => {
                return Err(AppError::invalid(
                    "invalid_value",
                    format!("group_by '{other}': use stage, period-week, period-month, supplier, technician or lab"),
                ))
            }
        })
    }
}

/// What to report on: stages that started in `[from, to)` and before `as_of` (instants).
#[derive(Debug, Clone)]
pub struct TatQuery {
    /// First instant of the period.
    pub from: DateTime<Utc>,
    /// First instant after the period.
    pub to: DateTime<Utc>,
    /// The instant the report describes.
    pub as_of: DateTime<Utc>,
    /// Grouping.
    pub group_by: GroupBy,
    /// Only this stage kind, if set.
    pub stage: Option<Stage>,
}

/// A turnaround figure in three units: working seconds (exact; median and percentile may end in
/// a fraction), working days (÷ 86 400, 3 decimals) and working hours (÷ 3 600, 2 decimals),
/// rounded half to even (GB/T 8170) once from the exact value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Figure {
    /// Working seconds, exact (mean rounded to 0.1 s).
    pub seconds: Decimal,
    /// Working days (24 working hours each), 3 decimals.
    pub days: Decimal,
    /// Working hours, 2 decimals.
    pub hours: Decimal,
}

impl Figure {
    /// The figure of `seconds` working seconds.
    pub fn of(seconds: Decimal) -> Figure {
        Figure {
            seconds: seconds.normalize(),
            days: round_half_even(seconds / Decimal::from(86_400), 3),
            hours: round_half_even(seconds / Decimal::from(3_600), 2),
        }
    }
}

/// One line of the report: one stage kind within one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TatGroup {
    /// initial_test or retest.
    pub stage: String,
    /// The group's key (see [`GroupBy`]); "all" when grouping by stage.
    pub group: String,
    /// Stages that started in the period before `as_of`.
    pub started: i64,
    /// Of those, released at or before `as_of` (their turnaround is counted).
    pub released: i64,
    /// Started but not released at `as_of`.
    pub open: i64,
    /// Released at or before the due instant.
    pub on_time: i64,
    /// Late: released after the due instant, or open at `as_of` and past due.
    pub late: i64,
    /// Of `late`, open at `as_of` and past due.
    pub open_past_due: i64,
    /// on_time / (on_time + late), 4 decimals; None when both are zero. Open stages not yet due
    /// are undecided and count in neither (`domain::deadline::is_overdue`).
    pub on_time_rate: Option<Decimal>,
    /// Mean turnaround of the released stages.
    pub mean: Option<Figure>,
    /// Median (linear interpolation, see docs/reports.md).
    pub median: Option<Figure>,
    /// 90th percentile (linear interpolation).
    pub p90: Option<Figure>,
    /// Maximum.
    pub max: Option<Figure>,
}

/// An open stage past its due instant at `as_of`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct OverdueStage {
    /// initial_test or retest.
    pub stage: String,
    /// Sample code.
    pub sample_code: String,
    /// Supplier code.
    pub supplier_code: String,
    /// Lab code.
    pub lab_code: String,
    /// Start of the stage (ms).
    #[serde(serialize_with = "as_rfc3339")]
    pub started_at: i64,
    /// Due instant (ms).
    #[serde(serialize_with = "as_rfc3339")]
    pub due_at: i64,
    /// Working seconds from the due instant to `as_of`.
    pub overdue_working_seconds: i64,
}

fn as_rfc3339<S: serde::Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&ms_to_rfc3339(*ms))
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TatReport {
    /// The instant described (RFC 3339).
    pub as_of: String,
    /// Period start (RFC 3339).
    pub from: String,
    /// Period end, exclusive (RFC 3339).
    pub to: String,
    /// Grouping.
    pub group_by: GroupBy,
    /// How the median and p90 are computed.
    pub percentile_method: &'static str,
    /// One line per stage kind and group, ordered by stage then group.
    pub groups: Vec<TatGroup>,
    /// Open stages past due at `as_of`, earliest due first.
    pub open_past_due: Vec<OverdueStage>,
}

/// The percentile definition used (docs/reports.md).
pub const PERCENTILE_METHOD: &str =
    "linear interpolation between closest ranks (Hyndman-Fan type 7, as PostgreSQL percentile_cont and Excel PERCENTILE.INC): h = (n - 1) p + 1, x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h])";

/// Checks the query's instants: `from < to` and all inside the working clock.
///
/// # Errors
/// [`AppError::Invalid`] naming the problem.
pub fn validate(q: &TatQuery) -> Result<(), AppError> {
    if q.from >= q.to {
        return Err(AppError::invalid("invalid_value", "from must be before to"));
    }
    // One day inside the clock's span at both ends, whatever the lab's UTC offset.
    let day =
        |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).and_then(|d| d.and_hms_opt(0, 0, 0));
    let (Some(first), Some(last)) = (day(2010, 1, 2), day(2059, 12, 30)) else {
        return Err(AppError::Internal("clock bounds".into()));
    };
    let (first, last) = (first.and_utc(), last.and_utc());
    for (name, t) in [("from", q.from), ("to", q.to), ("as_of", q.as_of)] {
        if t < first || t > last {
            return Err(AppError::invalid(
                "invalid_value",
                format!("{name} must lie between 2010-01-02T00:00:00Z and 2059-12-30T00:00:00Z, one day inside the span of the working-time clock (as dates in Beijing time: from 2010-01-03, to 2059-12-29 at the latest)"),
            ));
        }
    }
    Ok(())
}

/// The stages of a report's period with the labs' clocks and, when needed, their samples' labs
/// and suppliers.
struct Period {
    stages: Vec<PeriodStage>,
    clocks: LabClocks,
    /// sample id → (lab id, supplier id); read when grouping by supplier or lab, or when the
    /// labs do not all share one clock.
    samples: Option<HashMap<i64, (i64, i64)>>,
}

impl Period {
    fn load(tx: &mut Tx<'_>, q: &TatQuery, need_samples: bool) -> Result<Period, AppError> {
        let stages = period_stages(tx, q)?;
        let clocks = lab_clocks(tx)?;
        let samples = if need_samples || clocks.shared().is_none() {
            Some(sample_labs_suppliers(tx, q)?)
        } else {
            None
        };
        Ok(Period {
            stages,
            clocks,
            samples,
        })
    }

    fn sample(&self, st: &PeriodStage) -> Result<(i64, i64), AppError> {
        self.samples
            .as_ref()
            .and_then(|m| m.get(&st.sample_id).copied())
            .ok_or_else(|| AppError::Internal(format!("sample {} not read", st.sample_id)))
    }

    fn clock(&self, st: &PeriodStage) -> Result<&WorkingClock, AppError> {
        match self.clocks.shared() {
            Some(c) => Ok(c),
            None => self.clocks.of_lab(self.sample(st)?.0),
        }
    }
}

fn outside_clock() -> AppError {
    AppError::Internal("an instant of the report lies outside the working clock".into())
}

/// The groups a stage counts in (one, except by technician).
fn group_keys(
    period: &Period,
    st: &PeriodStage,
    g: GroupBy,
    clock: &WorkingClock,
    suppliers: &HashMap<i64, String>,
    technicians: &HashMap<i64, std::collections::BTreeSet<String>>,
) -> Result<Vec<String>, AppError> {
    let day = || clock.day_of(st.started_at).ok_or_else(outside_clock);
    Ok(match g {
        GroupBy::Stage => vec!["all".to_string()],
        GroupBy::PeriodWeek => vec![day()?.iso_week.clone()],
        GroupBy::PeriodMonth => vec![day()?.day.chars().take(7).collect()],
        GroupBy::Supplier => {
            let id = period.sample(st)?.1;
            vec![suppliers
                .get(&id)
                .cloned()
                .ok_or_else(|| AppError::Internal(format!("no supplier {id}")))?]
        }
        GroupBy::Lab => vec![period.clocks.code(period.sample(st)?.0)?.to_string()],
        GroupBy::Technician => match technicians.get(&st.id) {
            Some(names) if !names.is_empty() => names.iter().cloned().collect(),
            _ => vec![NONE.to_string()],
        },
    })
}

/// Computes the report. Call [`crate::service::reports_clock::ensure_clocks`] first.
///
/// # Errors
/// [`AppError::Invalid`] for bad instants; [`AppError::Internal`] when a lab's clock is not
/// built; database errors.
pub fn tat_report(tx: &mut Tx<'_>, q: &TatQuery) -> Result<TatReport, AppError> {
    validate(q)?;
    let asof = q.as_of.timestamp_millis();
    let period = Period::load(
        tx,
        q,
        matches!(q.group_by, GroupBy::Supplier | GroupBy::Lab),
    )?;
    let pauses = if period.stages.iter().any(|s| s.rel.is_some()) {
        period_pauses(tx, q)?
    } else {
        HashMap::new()
    };
    let technicians = if q.group_by == GroupBy::Technician {
        period_technicians(tx, q)?
    } else {
        HashMap::new()
    };
    let suppliers = if q.group_by == GroupBy::Supplier {
        supplier_codes(tx)?
    } else {
        HashMap::new()
    };
    let mut groups: BTreeMap<(String, String), Vec<StageTurnaround>> = BTreeMap::new();
    for st in &period.stages {
        let clock = period.clock(st)?;
        let turnaround_s = match st.rel {
            Some(rel) => {
                let p = pauses.get(&st.id).map(Vec::as_slice).unwrap_or_default();
                Some(turnaround_seconds(clock, st.started_at, rel, p).ok_or_else(outside_clock)?)
            }
            None => None,
        };
        let row = StageTurnaround {
            due_at: st.due_at,
            released_at: st.rel,
            turnaround_s,
        };
        for key in group_keys(&period, st, q.group_by, clock, &suppliers, &technicians)? {
            groups.entry((st.stage.clone(), key)).or_default().push(row);
        }
    }
    let groups = groups
        .into_iter()
        .map(|((stage, group), rows)| group_of(stage, group, summarize(&rows, asof)))
        .collect();
    Ok(TatReport {
        as_of: ms_to_rfc3339(asof),
        from: ms_to_rfc3339(q.from.timestamp_millis()),
        to: ms_to_rfc3339(q.to.timestamp_millis()),
        group_by: q.group_by,
        percentile_method: PERCENTILE_METHOD,
        groups,
        open_past_due: overdue_of(tx, q, &period)?,
    })
}

/// The open stages past due at `as_of` among the stages of the report (same period and stage
/// filter), earliest due first.
///
/// # Errors
/// As [`tat_report`].
pub fn overdue_stages(tx: &mut Tx<'_>, q: &TatQuery) -> Result<Vec<OverdueStage>, AppError> {
    validate(q)?;
    let period = Period::load(tx, q, false)?;
    overdue_of(tx, q, &period)
}

fn overdue_of(
    tx: &mut Tx<'_>,
    q: &TatQuery,
    period: &Period,
) -> Result<Vec<OverdueStage>, AppError> {
    let asof = q.as_of.timestamp_millis();
    let open: Vec<&PeriodStage> = period
        .stages
        .iter()
        .filter(|s| s.rel.is_none() && s.due_at < asof)
        .collect();
    let ids: Vec<i64> = open.iter().map(|s| s.id).collect();
    let info = stage_samples(tx, &ids)?;
    let mut out = Vec::with_capacity(open.len());
    for st in open {
        let (sample_code, supplier_code, lab_id) = info
            .get(&st.id)
            .ok_or_else(|| AppError::Internal(format!("stage {} not read", st.id)))?;
        let clock = period.clocks.of_lab(*lab_id)?;
        out.push(OverdueStage {
            stage: st.stage.clone(),
            sample_code: sample_code.clone(),
            supplier_code: supplier_code.clone(),
            lab_code: period.clocks.code(*lab_id)?.to_string(),
            started_at: st.started_at,
            due_at: st.due_at,
            overdue_working_seconds: clock.between(st.due_at, asof).ok_or_else(outside_clock)?
                / 1000,
        });
    }
    out.sort_by(|a, b| {
        (a.due_at, &a.sample_code, &a.stage).cmp(&(b.due_at, &b.sample_code, &b.stage))
    });
    Ok(out)
}

/// One line of the report from the statistics of its stages.
fn group_of(stage: String, group: String, s: TurnaroundSummary) -> TatGroup {
    let late = s.late_released + s.open_past_due;
    let decided = s.on_time + late;
    let rate = (decided > 0)
        .then(|| round_half_even(Decimal::from(s.on_time) / Decimal::from(decided), 4));
    TatGroup {
        stage,
        group,
        started: s.started,
        released: s.released,
        open: s.started - s.released,
        on_time: s.on_time,
        late,
        open_past_due: s.open_past_due,
        on_time_rate: rate,
        mean: s.mean_s.map(Figure::of),
        median: s.median_s.map(Figure::of),
        p90: s.p90_s.map(Figure::of),
        max: s.max_s.map(|x| Figure::of(Decimal::from(x))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_round_half_even_once() {
        // 129 600 s = 1.5 days = 36 h; 100 s = 0.001157… days → 0.001, 0.0277… h → 0.03.
        let f = Figure::of(Decimal::from(129_600));
        assert_eq!(
            (f.days.to_string(), f.hours.to_string()),
            ("1.500".into(), "36.00".into())
        );
        let f = Figure::of(Decimal::from(100));
        assert_eq!(
            (f.days.to_string(), f.hours.to_string()),
            ("0.001".into(), "0.03".into())
        );
    }
}
