//! CSV import: `coallab import samples FILE` (docs/formats.md) against the database's own loader
//! doing the equivalent work: putting the rows the import wrote back into the same tables in one
//! transaction ([`crate::reload`]). For reference, the loader putting the CSV file itself into a
//! plain table of TEXT columns (`sqlite3 .import --csv`, `psql \copy`) is timed too.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde::Serialize;

use crate::reload::{self, Reload, Schema, Snapshot};
use crate::store::{Backend, Store};
use crate::Error;

/// Figures of the import. Every rate is in CSV rows per second: the rows of the file divided by
/// the seconds, whatever the number of database rows written.
#[derive(Debug, Clone, Serialize)]
pub struct ImportResult {
    /// Rows in the file.
    pub rows: u64,
    /// Seconds of `coallab import samples`.
    pub coallab_seconds: f64,
    /// CSV rows per second of coallab.
    pub coallab_rows_per_s: f64,
    /// Seconds of the database's own loader putting the rows the import wrote (in every table)
    /// back in one transaction: the baseline of the floor.
    pub equivalent_seconds: f64,
    /// CSV rows per second of that loader (`rows / equivalent_seconds`).
    pub equivalent_rows_per_s: f64,
    /// What the equivalent loader loaded, and how.
    pub equivalent: Reload,
    /// Seconds of the loader putting the CSV file into a plain table of TEXT columns (the
    /// baseline before; for reference only, it is not the same work).
    pub plain_seconds: f64,
    /// CSV rows per second of the plain-table loader.
    pub plain_rows_per_s: f64,
}

/// Writes the import file: `rows` samples at the given suppliers in turn, sampled one second
/// apart ending an hour before now, each with Mad, Aad (three values) and St,ad determinations
/// that the duplicate rule accepts, so every row is registered, received, started, entered and
/// submitted. Seal numbers carry `tag` so that files of different runs never collide.
pub fn write_csv(
    path: &Path,
    rows: u64,
    suppliers: &[String],
    tag: &str,
) -> Result<PathBuf, Error> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        f,
        "supplier_code,sampled_at,samplers,test_seal_no,retained_seal_no,lot_no,mad,aad,st_ad"
    )?;
    let newest = chrono::Utc::now() - chrono::Duration::hours(1);
    let tz = chrono_tz::Asia::Shanghai;
    for i in 0..rows {
        let at = (newest - chrono::Duration::seconds(i as i64)).with_timezone(&tz);
        writeln!(
            f,
            "{},{},张伟;刘洋,T-{tag}-{i},B-{tag}-{i},LOT-{i},2.10;2.16,12.10;12.32;12.20,0.48;0.50",
            suppliers[(i as usize) % suppliers.len()],
            at.to_rfc3339(),
        )?;
    }
    f.flush()?;
    Ok(path.to_path_buf())
}

/// Imports `file` with the release binary as `user` and times it; checks every row was created.
fn coallab_import(store: &Store, file: &Path, user: &str, rows: u64) -> Result<f64, Error> {
    let t = Instant::now();
    let out = Command::new(crate::coallab_bin())
        .args(store.coallab_args())
        .args(["import", "samples"])
        .arg(file)
        .args(["--user", user])
        .stdin(Stdio::null())
        .output()?;
    let secs = t.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "coallab import failed: {}{}",
            stdout,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let report = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l.trim()).ok())
        .ok_or_else(|| format!("no import report: {stdout}"))?;
    if report.get("changed").and_then(|v| v.as_u64()) != Some(rows) {
        return Err(format!("import created fewer samples than rows: {report}").into());
    }
    Ok(secs)
}

/// The loader putting the CSV file into a plain table of TEXT columns (reference figure).
fn plain_loader(store: &Store, file: &Path) -> Result<f64, Error> {
    let columns = "supplier_code TEXT, sampled_at TEXT, samplers TEXT, test_seal_no TEXT, \
                   retained_seal_no TEXT, lot_no TEXT, mad TEXT, aad TEXT, st_ad TEXT";
    store.script(&format!(
        "DROP TABLE IF EXISTS bench_plain_import;\nCREATE TABLE bench_plain_import ({columns});\n"
    ))?;
    let file = std::fs::canonicalize(file)?;
    let script = match store.backend {
        Backend::Sqlite => format!(
            ".import --csv --skip 1 '{}' bench_plain_import\n",
            file.display()
        ),
        Backend::Postgres => format!(
            "\\copy bench_plain_import FROM '{}' WITH (FORMAT csv, HEADER true)\n",
            file.display()
        ),
    };
    let secs = store.time_script(&script)?;
    store.script("DROP TABLE bench_plain_import;\n")?;
    Ok(secs)
}

/// Runs the plain-table loader, the import of `rows` rows into `store` (the working copy; the
/// server is stopped) and then the equivalent loader, which leaves the database as the import
/// left it.
pub fn measure(
    store: &Store,
    work_dir: &Path,
    rows: u64,
    suppliers: &[String],
    user: &str,
) -> Result<ImportResult, Error> {
    let tag = format!("BENCH{}", chrono::Utc::now().timestamp_millis());
    let file = write_csv(
        &work_dir.join(format!("import-{}.csv", store.backend.name())),
        rows,
        suppliers,
        &tag,
    )?;
    let plain_seconds = plain_loader(store, &file)?;
    let schema = Schema::read(store)?;
    let before = Snapshot::take(store, &schema)?;
    let coallab_seconds = coallab_import(store, &file, user, rows)?;
    let _ = std::fs::remove_file(&file);
    eprintln!(
        "[{}] import {rows} rows in {coallab_seconds:.2} s; reloading its rows with the database's loader …",
        store.backend.name()
    );
    let equivalent = reload::equivalent(
        store,
        &schema,
        &before,
        &work_dir.join(format!("reload-{}", store.backend.name())),
    )?;
    Ok(ImportResult {
        rows,
        coallab_seconds,
        coallab_rows_per_s: rows as f64 / coallab_seconds,
        equivalent_seconds: equivalent.seconds,
        equivalent_rows_per_s: rows as f64 / equivalent.seconds,
        equivalent,
        plain_seconds,
        plain_rows_per_s: rows as f64 / plain_seconds,
    })
}
