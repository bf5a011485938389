//! Scale benchmark (issue 8; docs/performance.md): coallab at 1 000 000 samples on SQLite and on
//! PostgreSQL, each figure beside a baseline measured in the same run on the same data.
//!
//! ```sh
//! cargo bench --bench scale -- [--samples 1000000] [--backends sqlite,postgres] [--json out.json]
//! ```
//!
//! Per backend: the database is generated once with the release `coallab demo generate` and kept
//! (a marker file and its sample count recognise it); every run measures on a fresh working copy
//! of it. With the release `coallab serve` running on the copy (rate limits off, `--workers`,
//! `--pool-size`), it measures
//! - status lookup (`GET /api/v1/reports/status?sample_code={code}`, random released samples, as
//!   the regulator), the whole sample view (`GET /api/v1/samples/{code}`, the same samples)
//!   and determination entry (`POST …/determinations`, as the technician) at each concurrency:
//!   requests/s, p50 and p99, beside `GET /health` at the same concurrency;
//! - the TAT report and the supplier list for the year with the most samples, and the
//!   statistics plus chart of the supplier with the most released samples: median time, beside
//!   the equivalent SQL run directly by `sqlite3` / `psql` (their own timers);
//! - then, with the server stopped, `coallab import samples` of a CSV file beside the database's
//!   own loader putting the rows the import wrote back into the same tables in one transaction
//!   (and, for reference, the loader putting the CSV file into a plain table).
//!
//! The load generator runs on the same 2-core machine as the server and takes CPU from it.

#[path = "scale/args.rs"]
mod args;
#[path = "scale/entry.rs"]
mod entry;
#[path = "scale/facts.rs"]
mod facts;
#[path = "scale/import.rs"]
mod import;
#[path = "scale/load.rs"]
mod load;
#[path = "scale/reload.rs"]
mod reload;
#[path = "scale/report.rs"]
mod report;
#[path = "scale/server.rs"]
mod server;
#[path = "scale/store.rs"]
mod store;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use crate::args::Args;
use crate::load::{median, Workload};
use crate::report::{BackendFigures, HttpFigure, TimedFigure};
use crate::server::Server;
use crate::store::Backend;

/// Any error of the benchmark.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The release `coallab` binary cargo built for this bench.
pub fn coallab_bin() -> &'static str {
    env!("CARGO_BIN_EXE_coallab")
}

/// Released samples whose codes the status lookups draw from.
const LOOKUP_CODES: usize = 20_000;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scale benchmark failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), Error> {
    let backends = args
        .backends
        .iter()
        .map(|b| Backend::parse(b))
        .collect::<Result<Vec<_>, _>>()?;
    let rt = if args.load_threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.load_threads)
            .enable_all()
            .build()?
    };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .build()?;
    let mut all = Vec::new();
    for b in backends {
        let figures = measure_backend(args, &rt, &client, b)?;
        println!("\n{}\n", report::table(&figures));
        for f in report::floors(&figures) {
            println!("floor ({}): {f}", b.name());
        }
        all.push(figures);
    }
    println!("\n=== summary ===");
    for f in &all {
        println!("\n{}\n", report::table(f));
        for line in report::floors(f) {
            println!("floor ({}): {line}", f.backend.name());
        }
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&all)?)?;
        println!("\nJSON written to {}", path.display());
    }
    Ok(())
}

fn measure_backend(
    args: &Args,
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    backend: Backend,
) -> Result<BackendFigures, Error> {
    let (base, marker) = store::ensure_generated(args, backend)?;
    let copy = if args.copy {
        store::working_copy(args, &base)?
    } else {
        base.clone()
    };
    let facts = facts::read(&copy, &marker, LOOKUP_CODES, args.clients.iter().sum())?;
    eprintln!(
        "[{}] {} samples; year {} ({} samples, {} stages); big supplier {} ({} released)",
        backend.name(),
        facts.samples,
        facts.year,
        facts.year_samples,
        facts.year_stages,
        facts.big_supplier,
        facts.big_supplier_results
    );
    // The direct SQL first, with no server running.
    let y = facts.year;
    let direct = |sql: String, times: f64| -> Result<(f64, String), Error> {
        let t = median(&copy.time_sql(&sql, args.repeat)?) * times;
        Ok((t, sql))
    };
    let mut directs = Vec::new();
    if args.wants("reports") {
        directs.push(direct(facts::tat_sql(y), 1.0)?);
        directs.push(direct(facts::suppliers_sql(y), 1.0)?);
        // The statistics and the chart each load the series once.
        directs.push(direct(facts::series_sql(&facts.big_supplier), 2.0)?);
    }

    let server = Server::start(args, &copy, false)?;
    eprintln!("[{}] coallab serve at {}", backend.name(), server.base);
    let measured = measure_http(args, rt, client, &server.base, &facts);
    server.stop()?;
    let (http, mut timed) = measured?;
    for (t, (secs, sql)) in timed.iter_mut().zip(directs) {
        t.baseline_seconds = secs;
        t.baseline_sql = sql;
    }
    let import = if args.wants("import") {
        eprintln!("[{}] CSV import …", backend.name());
        Some(import::measure(
            &copy,
            &args.work_dir,
            args.import_rows(),
            &facts.supplier_codes,
            "tech-wang",
        )?)
    } else {
        None
    };
    if args.copy {
        store::drop_copy(args, &copy)?;
    } else {
        store::update_marker(args, &base, &marker)?;
    }
    Ok(BackendFigures {
        backend,
        marker,
        facts,
        workers: args.workers,
        pool_size: args.pool_size,
        http,
        timed,
        import,
    })
}

fn measure_http(
    args: &Args,
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    base: &str,
    facts: &facts::Facts,
) -> Result<(Vec<HttpFigure>, Vec<TimedFigure>), Error> {
    let health = Workload::Get {
        paths: Arc::new(vec!["/health".to_string()]),
        token: None,
    };
    let get_each = |path: &dyn Fn(&str) -> String| Workload::Get {
        paths: Arc::new(facts.codes.iter().map(|c| path(c)).collect()),
        token: Some("demo-regulator".into()),
    };
    // The regulator's status lookup (state, verdict, deadlines of each stage), and the whole
    // sample view with its results and limits.
    let lookup = get_each(&|c| format!("/api/v1/reports/status?sample_code={c}"));
    let view = get_each(&|c| format!("/api/v1/samples/{c}"));
    // One sample per client of each run: samples already in initial testing, and as many more
    // registered, received and started over HTTP as are missing.
    let keys = if args.wants("entry") {
        let need: usize = args.clients.iter().sum();
        let mut keys = facts.in_testing.clone();
        keys.truncate(need);
        let more = entry::prepare(
            rt,
            client,
            base,
            "demo-technician",
            &facts.big_supplier,
            need - keys.len(),
        )?;
        keys.extend(more);
        keys
    } else {
        Vec::new()
    };
    let mut offset = 0;
    let mut http = Vec::new();
    for &c in &args.clients {
        if !(args.wants("lookup") || args.wants("entry")) {
            break;
        }
        let run = |w: &Workload, what: &str| {
            eprintln!("  {what} at {c} clients …");
            load::run(rt, client, base, w, c, args.warmup, args.duration)
        };
        let h = run(&health, "GET /health")?;
        if args.wants("lookup") {
            http.push(HttpFigure {
                name: "status lookup".into(),
                endpoint: "GET /api/v1/reports/status?sample_code={code}".into(),
                coallab: run(&lookup, "status lookup")?,
                health: h.clone(),
            });
            http.push(HttpFigure {
                name: "sample view".into(),
                endpoint: "GET /api/v1/samples/{code}".into(),
                coallab: run(&view, "sample view")?,
                health: h.clone(),
            });
        }
        if args.wants("entry") {
            let entries = Workload::Determinations {
                keys: Arc::new(keys[offset..offset + c].to_vec()),
                token: "demo-technician".into(),
            };
            offset += c;
            http.push(HttpFigure {
                name: "determination entry".into(),
                endpoint: "POST /api/v1/samples/{code}/determinations".into(),
                coallab: run(&entries, "determination entry")?,
                health: h,
            });
        }
    }
    let order = |name: &str| {
        ["status lookup", "sample view"]
            .iter()
            .position(|n| *n == name)
            .unwrap_or(2)
    };
    http.sort_by_key(|h| (order(&h.name), h.coallab.clients));
    let y = facts.year;
    let code = &facts.big_supplier;
    let mut timed = Vec::new();
    if !args.wants("reports") {
        return Ok((http, timed));
    }
    for (name, paths, token) in [
        (
            format!("TAT report {y}"),
            vec![format!("/api/v1/reports/tat?from={y}-01-01&to={y}-12-31")],
            "demo-auditor",
        ),
        (
            format!("supplier list {y}"),
            vec![format!(
                "/api/v1/reports/suppliers?from={y}-01-01&to={y}-12-31"
            )],
            "demo-regulator",
        ),
        (
            format!("stats + chart {code}"),
            vec![
                format!("/api/v1/suppliers/{code}/stats"),
                format!("/api/v1/suppliers/{code}/chart.svg"),
            ],
            "demo-regulator",
        ),
    ] {
        eprintln!("  {name} …");
        let secs = median(&load::time_gets(
            rt,
            client,
            base,
            &paths,
            token,
            args.repeat,
        )?);
        timed.push(TimedFigure {
            name,
            requests: paths,
            seconds: secs,
            baseline_seconds: f64::NAN,
            baseline_sql: String::new(),
        });
    }
    Ok((http, timed))
}
