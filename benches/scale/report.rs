//! The figures of a run: a table per backend (each figure beside its baseline and their ratio),
//! the floors, and the same as JSON.

use serde::Serialize;

use crate::facts::Facts;
use crate::import::ImportResult;
use crate::load::LoadResult;
use crate::store::{Backend, Marker};

/// One HTTP figure at one concurrency, beside the health endpoint at the same concurrency.
#[derive(Debug, Clone, Serialize)]
pub struct HttpFigure {
    /// "status lookup", "sample view" or "determination entry".
    pub name: String,
    /// The endpoint measured.
    pub endpoint: String,
    /// The endpoint's figures.
    pub coallab: LoadResult,
    /// GET /health at the same concurrency.
    pub health: LoadResult,
}

/// A timed request (or pair) beside the database doing the equivalent work directly.
#[derive(Debug, Clone, Serialize)]
pub struct TimedFigure {
    /// What was timed.
    pub name: String,
    /// The requests.
    pub requests: Vec<String>,
    /// Median seconds over HTTP (every request of `requests`, one after the other).
    pub seconds: f64,
    /// Median seconds of the direct SQL (database execution time from the client's timer).
    pub baseline_seconds: f64,
    /// The direct SQL.
    pub baseline_sql: String,
}

/// Everything measured on one backend.
#[derive(Debug, Clone, Serialize)]
pub struct BackendFigures {
    /// The backend.
    pub backend: Backend,
    /// How the database was made.
    pub marker: Marker,
    /// The data.
    pub facts: Facts,
    /// Server settings.
    pub workers: usize,
    /// Pool size.
    pub pool_size: u32,
    /// HTTP figures.
    pub http: Vec<HttpFigure>,
    /// Reports and statistics.
    pub timed: Vec<TimedFigure>,
    /// CSV import.
    pub import: Option<ImportResult>,
}

fn row(cells: &[String], widths: &[usize]) -> String {
    let mut s = String::from("|");
    for (c, w) in cells.iter().zip(widths) {
        s.push_str(&format!(" {c:<w$} |"));
    }
    s
}

/// The figures table of one backend in Markdown (pasted as is into docs/performance.md).
pub fn table(f: &BackendFigures) -> String {
    let widths = [34, 7, 14, 26, 8];
    let mut out = Vec::new();
    out.push(format!(
        "### {} — {} samples ({}), {} suppliers; reports on {} ({} samples, {} stages); statistics of {} ({} released samples)",
        f.backend.name(),
        f.facts.samples,
        f.marker.source,
        f.facts.supplier_codes.len(),
        f.facts.year,
        f.facts.year_samples,
        f.facts.year_stages,
        f.facts.big_supplier,
        f.facts.big_supplier_results
    ));
    out.push(String::new());
    out.push(row(
        &[
            "figure".into(),
            "clients".into(),
            "coallab".into(),
            "baseline".into(),
            "ratio".into(),
        ],
        &widths,
    ));
    out.push(row(
        &widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>(),
        &widths,
    ));
    for h in &f.http {
        let c = h.coallab.clients.to_string();
        let err = if h.coallab.errors > 0 {
            format!(" ({} errors!)", h.coallab.errors)
        } else {
            String::new()
        };
        out.push(row(
            &[
                format!("{} req/s{err}", h.name),
                c.clone(),
                format!("{:.0}", h.coallab.rps),
                format!("{:.0} (GET /health)", h.health.rps),
                format!("{:.3}", h.coallab.rps / h.health.rps),
            ],
            &widths,
        ));
        for (label, a, b) in [
            ("p50 ms", h.coallab.p50_ms, h.health.p50_ms),
            ("p99 ms", h.coallab.p99_ms, h.health.p99_ms),
        ] {
            out.push(row(
                &[
                    format!("{} {label}", h.name),
                    c.clone(),
                    format!("{a:.2}"),
                    format!("{b:.2} (GET /health)"),
                    format!("{:.1}", a / b),
                ],
                &widths,
            ));
        }
    }
    for t in &f.timed {
        let (v, b, unit) = if t.seconds < 1.0 {
            (t.seconds * 1000.0, t.baseline_seconds * 1000.0, "ms")
        } else {
            (t.seconds, t.baseline_seconds, "s")
        };
        out.push(row(
            &[
                format!("{} ({unit})", t.name),
                "1".into(),
                format!("{v:.3}"),
                format!("{b:.3} (direct SQL)"),
                if t.baseline_seconds > 0.0 {
                    format!("{:.1}", t.seconds / t.baseline_seconds)
                } else {
                    // sqlite3's timer counts whole milliseconds.
                    "n/a (< 1 ms)".into()
                },
            ],
            &widths,
        ));
    }
    if let Some(i) = &f.import {
        out.push(row(
            &[
                format!("CSV import CSV rows/s ({} rows)", i.rows),
                "1".into(),
                format!("{:.0}", i.coallab_rows_per_s),
                format!("{:.0} (loader, same rows)", i.equivalent_rows_per_s),
                format!("{:.3}", i.coallab_rows_per_s / i.equivalent_rows_per_s),
            ],
            &widths,
        ));
        out.push(row(
            &[
                "  reference: CSV into plain table".into(),
                "1".into(),
                format!("{:.0}", i.coallab_rows_per_s),
                format!("{:.0} (plain table)", i.plain_rows_per_s),
                format!("{:.4}", i.coallab_rows_per_s / i.plain_rows_per_s),
            ],
            &widths,
        ));
    }
    out.join("\n")
}

/// The floors, each with its measured value and met / NOT met.
pub fn floors(f: &BackendFigures) -> Vec<String> {
    let mut out = Vec::new();
    let mark = |ok: bool| if ok { "met" } else { "NOT met" };
    if let Some(h) = f
        .http
        .iter()
        .find(|h| h.name == "status lookup" && h.coallab.clients == 8)
    {
        out.push(format!(
            "status lookup p99 at 8 clients {:.2} ms < 10 ms: {}",
            h.coallab.p99_ms,
            mark(h.coallab.p99_ms < 10.0)
        ));
        let r = h.coallab.rps / h.health.rps;
        out.push(format!(
            "status lookup rate at 8 clients {:.3} of /health >= 0.5: {}",
            r,
            mark(r >= 0.5)
        ));
    }
    if let Some(t) = f.timed.iter().find(|t| t.name.starts_with("TAT report")) {
        out.push(format!(
            "TAT report one year {:.3} s < 2 s: {}",
            t.seconds,
            mark(t.seconds < 2.0)
        ));
    }
    if let Some(i) = &f.import {
        let r = i.coallab_rows_per_s / i.equivalent_rows_per_s;
        out.push(format!(
            "CSV import {:.3} of the rate of the database's loader putting the same {} rows \
             (in {} tables) back in one transaction >= 0.25: {}",
            r,
            i.equivalent.rows,
            i.equivalent.tables.len(),
            mark(r >= 0.25)
        ));
    }
    out
}
