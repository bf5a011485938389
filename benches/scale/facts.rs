//! What the measurements need to know about the data (read with SQL from the working copy),
//! and the direct SQL the database runs as the baseline of each report.

use chrono::TimeZone;
use serde::Serialize;

use crate::store::{Marker, Store};
use crate::Error;

/// Facts of one generated database.
#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    /// Rows in `samples`.
    pub samples: u64,
    /// The supplier with the most released samples (from the generator's summary if given).
    pub big_supplier: String,
    /// Its released samples.
    pub big_supplier_results: u64,
    /// The year with the most samples (the reports' year).
    pub year: i32,
    /// Samples sampled in that year.
    pub year_samples: u64,
    /// Stages started in that year.
    pub year_stages: u64,
    /// Codes of released samples for the status lookups (random order).
    #[serde(skip)]
    pub codes: Vec<String>,
    /// Every supplier code.
    #[serde(skip)]
    pub supplier_codes: Vec<String>,
    /// Samples of the demo lab in initial testing with no Vad determination yet (for the entry
    /// load: a sample left by an earlier run could agree with the first value of this one).
    #[serde(skip)]
    pub in_testing: Vec<String>,
}

/// The year's instants [from, to) in ms, local midnights in Asia/Shanghai (the lab's zone in
/// the demo data).
pub fn year_bounds_ms(year: i32) -> (i64, i64) {
    let tz = chrono_tz::Asia::Shanghai;
    let at = |y| {
        tz.with_ymd_and_hms(y, 1, 1, 0, 0, 0)
            .single()
            .map(|t| t.timestamp_millis())
            .unwrap_or_default()
    };
    (at(year), at(year + 1))
}

/// Reads the facts.
pub fn read(
    store: &Store,
    marker: &Marker,
    lookups: usize,
    entry_samples: usize,
) -> Result<Facts, Error> {
    let samples: u64 = store
        .value("SELECT COUNT(*) FROM samples")?
        .trim()
        .parse()?;
    let from_gen = marker
        .generation
        .get("big_supplier")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let (big_supplier, big_supplier_results) = {
        let filter = from_gen
            .as_ref()
            .map(|c| format!(" AND sp.code = '{}'", c.replace('\'', "''")))
            .unwrap_or_default();
        let row = store
            .rows(&format!(
                "SELECT sp.code, COUNT(*) FROM samples s JOIN suppliers sp ON sp.id = s.supplier_id \
                 WHERE s.final_verdict IS NOT NULL{filter} GROUP BY sp.code ORDER BY 2 DESC, 1 LIMIT 1"
            ))?
            .into_iter()
            .next()
            .ok_or("no released sample")?;
        (row[0].clone(), row[1].trim().parse()?)
    };
    let row = store
        .rows(
            "SELECT SUBSTR(sampled_on, 1, 4), COUNT(*) FROM samples GROUP BY SUBSTR(sampled_on, 1, 4) \
             ORDER BY 2 DESC, 1 DESC LIMIT 1",
        )?
        .into_iter()
        .next()
        .ok_or("no sample")?;
    let year: i32 = row[0].trim().parse()?;
    let year_samples: u64 = row[1].trim().parse()?;
    let (a, b) = year_bounds_ms(year);
    let year_stages: u64 = store
        .value(&format!(
            "SELECT COUNT(*) FROM stages WHERE started_at >= {a} AND started_at < {b}"
        ))?
        .trim()
        .parse()?;
    let codes = store
        .rows(&format!(
            "SELECT sample_code FROM samples WHERE final_verdict IS NOT NULL \
             AND state NOT IN ('rejected', 'cancelled') ORDER BY RANDOM() LIMIT {lookups}"
        ))?
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    let supplier_codes = store
        .rows("SELECT code FROM suppliers ORDER BY code")?
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    let in_testing = store
        .rows(&format!(
            "SELECT s.sample_code FROM samples s JOIN labs l ON l.id = s.lab_id \
             WHERE l.code = 'DEMO' AND s.state = 'initial_testing' AND NOT EXISTS \
             (SELECT 1 FROM stages g JOIN determinations d ON d.stage_id = g.id \
              WHERE g.sample_id = s.id AND d.analysis = 'vad') \
             ORDER BY s.id LIMIT {entry_samples}"
        ))?
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    Ok(Facts {
        in_testing,
        samples,
        big_supplier,
        big_supplier_results,
        year,
        year_samples,
        year_stages,
        codes,
        supplier_codes,
    })
}

/// The turnaround aggregate done directly: per stage kind, the stages started in the year with
/// their sample (the join the report makes), counts of released and on-time stages, mean and
/// maximum of release − start. (The report adds the working-time clock, pauses, the sample's
/// rejection check and percentiles.)
pub fn tat_sql(year: i32) -> String {
    let (a, b) = year_bounds_ms(year);
    format!(
        "SELECT g.stage, COUNT(*), SUM(CASE WHEN g.released_at IS NOT NULL THEN 1 ELSE 0 END), \
         SUM(CASE WHEN g.released_at <= g.due_at THEN 1 ELSE 0 END), \
         AVG(g.released_at - g.started_at), MAX(g.released_at - g.started_at) \
         FROM stages g JOIN samples s ON s.id = g.sample_id \
         WHERE g.started_at >= {a} AND g.started_at < {b} GROUP BY g.stage ORDER BY g.stage"
    )
}

/// The supplier list aggregate done directly: per supplier, its released samples of the year
/// and how many passed and failed. (The report adds the effective state after the appeal
/// window, the last final verdict, open appeals and overdue stages.)
pub fn suppliers_sql(year: i32) -> String {
    format!(
        "SELECT sp.code, COUNT(s.id), SUM(CASE WHEN s.final_verdict = 'pass' THEN 1 ELSE 0 END), \
         SUM(CASE WHEN s.final_verdict = 'fail' THEN 1 ELSE 0 END) \
         FROM suppliers sp LEFT JOIN samples s ON s.supplier_id = sp.id \
           AND s.final_verdict IS NOT NULL AND s.sampled_on >= '{year}-01-01' \
           AND s.sampled_on <= '{year}-12-31' \
         GROUP BY sp.code ORDER BY sp.code"
    )
}

/// The lookup behind the statistics and the chart done directly: the supplier's released
/// stages with their stored results and frozen limit sets, in sampling order (the same rows
/// the server loads, once per request).
pub fn series_sql(supplier: &str) -> String {
    format!(
        "SELECT s.id, s.sample_code, s.sampled_at, s.limit_sets_frozen, s.supplier_id, g.stage, g.results \
         FROM samples s JOIN stages g ON g.sample_id = s.id \
         WHERE s.supplier_id = (SELECT id FROM suppliers WHERE code = '{}') \
           AND g.released_at IS NOT NULL AND s.state NOT IN ('rejected', 'cancelled') \
         ORDER BY s.sampled_at, s.id, g.id",
        supplier.replace('\'', "''")
    )
}
