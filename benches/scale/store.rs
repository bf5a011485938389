//! The databases of the benchmark: the generated one (kept between runs, recognised by a marker
//! file and its sample count), the working copy each run measures on (so that entries and the
//! import never change the generated data), and SQL through the `sqlite3` / `psql` clients.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::args::Args;
use crate::server::Server;
use crate::Error;

/// SQLite or PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// SQLite file.
    Sqlite,
    /// PostgreSQL database.
    Postgres,
}

impl Backend {
    /// Parses `sqlite` or `postgres`.
    pub fn parse(s: &str) -> Result<Backend, Error> {
        match s.trim() {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "pg" | "postgresql" => Ok(Backend::Postgres),
            o => Err(format!("unknown backend '{o}' (sqlite or postgres)").into()),
        }
    }

    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// One database: a SQLite data directory or a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct Store {
    /// Which backend.
    pub backend: Backend,
    /// SQLite: the data directory (holding coallab.db).
    pub dir: PathBuf,
    /// PostgreSQL: server URL without database, and the database name.
    pub pg: Option<(String, String)>,
}

/// What is known about a generated database; stored next to it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Marker {
    /// Samples asked for.
    pub samples: u64,
    /// Suppliers asked for.
    pub suppliers: u64,
    /// Seed.
    pub seed: u64,
    /// Rows in `samples` now (the size check): after generation, plus what runs without
    /// `--copy` added.
    pub sample_rows: u64,
    /// Rows in `samples` right after generation.
    #[serde(default)]
    pub generated_rows: u64,
    /// "demo generate", or "demo county" when the generator was not available.
    pub source: String,
    /// Seconds the generation took.
    pub seconds: f64,
    /// The JSON object printed by `coallab demo generate` (null for the demo county).
    pub generation: serde_json::Value,
}

impl Store {
    /// The arguments that point `coallab` at this database.
    pub fn coallab_args(&self) -> Vec<String> {
        match &self.pg {
            None => vec!["--data-dir".into(), self.dir.display().to_string()],
            Some(_) => vec!["--database-url".into(), self.url()],
        }
    }

    /// PostgreSQL URL of the database (empty for SQLite).
    pub fn url(&self) -> String {
        self.pg
            .as_ref()
            .map(|(server, db)| format!("{}/{db}", server.trim_end_matches('/')))
            .unwrap_or_default()
    }

    /// SQLite database file.
    pub fn file(&self) -> PathBuf {
        self.dir.join("coallab.db")
    }

    fn client(&self) -> Command {
        match &self.pg {
            None => {
                let mut c = Command::new("sqlite3");
                c.arg("-batch").arg("-noheader").arg("-separator").arg("\t");
                c.arg(self.file());
                c
            }
            Some(_) => {
                let mut c = Command::new("psql");
                c.args(["-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1"]);
                c.arg(self.url());
                c
            }
        }
    }

    /// Runs a script through the command-line client and returns its output.
    pub fn script(&self, script: &str) -> Result<String, Error> {
        let mut child = self
            .client()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run the SQL client: {e}"))?;
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().ok_or("no stdin")?;
            stdin.write_all(script.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        if !out.status.success() {
            return Err(format!(
                "SQL client failed: {}\n{}",
                String::from_utf8_lossy(&out.stderr),
                script.chars().take(400).collect::<String>()
            )
            .into());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Rows of one query, tab-separated fields.
    pub fn rows(&self, sql: &str) -> Result<Vec<Vec<String>>, Error> {
        Ok(self
            .script(&format!("{sql};\n"))?
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect())
    }

    /// One value.
    pub fn value(&self, sql: &str) -> Result<String, Error> {
        self.rows(sql)?
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .ok_or_else(|| format!("no row from: {sql}").into())
    }

    /// Runs `sql` once untimed, then `repeat` times with the client's own timer (`.timer on` /
    /// `\timing on`: the database's execution time, without starting the client), output
    /// discarded. Returns the seconds of each timed run.
    pub fn time_sql(&self, sql: &str, repeat: usize) -> Result<Vec<f64>, Error> {
        let sql = sql.trim().trim_end_matches(';');
        let mut script = String::new();
        match self.backend {
            Backend::Sqlite => script.push_str(".output /dev/null\n"),
            Backend::Postgres => script.push_str("\\o /dev/null\n"),
        }
        script.push_str(&format!("{sql};\n"));
        match self.backend {
            Backend::Sqlite => script.push_str(".timer on\n"),
            Backend::Postgres => script.push_str("\\timing on\n"),
        }
        for _ in 0..repeat {
            script.push_str(&format!("{sql};\n"));
        }
        let out = self.script(&script)?;
        let times: Vec<f64> = out
            .lines()
            .filter_map(|l| match self.backend {
                // "Run Time: real 0.014 user 0.010894 sys 0.001634"
                Backend::Sqlite => l
                    .strip_prefix("Run Time: real ")
                    .and_then(|r| r.split_whitespace().next())
                    .and_then(|v| v.parse::<f64>().ok()),
                // "Time: 15.267 ms" (or "Time: 1234.5 ms (00:01.234)")
                Backend::Postgres => l
                    .strip_prefix("Time: ")
                    .and_then(|r| r.split_whitespace().next())
                    .and_then(|v| v.parse::<f64>().ok())
                    .map(|ms| ms / 1000.0),
            })
            .collect();
        if times.len() != repeat {
            return Err(format!("expected {repeat} timings, got: {out}").into());
        }
        Ok(times)
    }

    /// Times a whole client run of `script` by the wall clock (for the bulk loaders).
    pub fn time_script(&self, script: &str) -> Result<f64, Error> {
        let t = Instant::now();
        self.script(script)?;
        Ok(t.elapsed().as_secs_f64())
    }
}

fn marker_path(args: &Args, backend: Backend) -> PathBuf {
    args.work_dir.join(format!(
        "{}-n{}-m{}-s{}.json",
        backend.name(),
        args.samples,
        args.suppliers(),
        args.seed
    ))
}

/// The generated database of `backend` for these arguments.
pub fn base_store(args: &Args, backend: Backend) -> Store {
    let tag = format!("n{}_m{}_s{}", args.samples, args.suppliers(), args.seed);
    match backend {
        Backend::Sqlite => Store {
            backend,
            dir: args.work_dir.join(format!("sqlite-{tag}")),
            pg: None,
        },
        Backend::Postgres => Store {
            backend,
            dir: args.work_dir.clone(),
            pg: Some((args.pg_url.clone(), format!("coallab_bench_{tag}"))),
        },
    }
}

fn admin_store(args: &Args) -> Store {
    Store {
        backend: Backend::Postgres,
        dir: args.work_dir.clone(),
        pg: Some((args.pg_url.clone(), "postgres".into())),
    }
}

fn pg_exists(args: &Args, db: &str) -> Result<bool, Error> {
    Ok(admin_store(args)
        .value(&format!(
            "SELECT COUNT(*) FROM pg_database WHERE datname = '{db}'"
        ))?
        .trim()
        == "1")
}

fn sample_rows(store: &Store) -> Result<u64, Error> {
    Ok(store
        .value("SELECT COUNT(*) FROM samples")?
        .trim()
        .parse()?)
}

/// Makes sure the generated database exists and matches its marker; generates it otherwise.
pub fn ensure_generated(args: &Args, backend: Backend) -> Result<(Store, Marker), Error> {
    std::fs::create_dir_all(&args.work_dir)?;
    let store = base_store(args, backend);
    let mpath = marker_path(args, backend);
    let exists = match &store.pg {
        None => store.file().exists(),
        Some((_, db)) => pg_exists(args, db)?,
    };
    if exists && !args.regenerate {
        if let Ok(text) = std::fs::read_to_string(&mpath) {
            if let Ok(m) = serde_json::from_str::<Marker>(&text) {
                let rows = sample_rows(&store).ok();
                if m.samples == args.samples
                    && m.suppliers == args.suppliers()
                    && m.seed == args.seed
                    && rows != Some(m.sample_rows)
                {
                    // An interrupted run added samples; regenerating would throw away an hour
                    // of work, so only on request.
                    return Err(format!(
                        "the generated {} database holds {rows:?} samples, its marker {} says {}: \
                         an interrupted run? Correct the marker's sample_rows, or pass --regenerate",
                        backend.name(),
                        mpath.display(),
                        m.sample_rows
                    )
                    .into());
                }
                if m.samples == args.samples
                    && m.suppliers == args.suppliers()
                    && m.seed == args.seed
                {
                    eprintln!(
                        "[{}] reusing the generated database ({} samples, marker {})",
                        backend.name(),
                        m.sample_rows,
                        mpath.display()
                    );
                    return Ok((store, m));
                }
            }
        }
    }
    // Start from nothing.
    let _ = std::fs::remove_file(&mpath);
    match &store.pg {
        None => {
            let _ = std::fs::remove_dir_all(&store.dir);
            std::fs::create_dir_all(&store.dir)?;
        }
        Some((_, db)) => {
            let admin = admin_store(args);
            admin.script(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE);\n"))?;
            admin.script(&format!("CREATE DATABASE {db};\n"))?;
        }
    }
    eprintln!(
        "[{}] generating {} samples, {} suppliers (seed {}) with the release `coallab demo generate` …",
        backend.name(),
        args.samples,
        args.suppliers(),
        args.seed
    );
    // Builds without the generator fall back to the demo county; a generator that fails stops
    // the benchmark.
    let has_generator = Command::new(crate::coallab_bin())
        .args(["demo", "generate", "--help"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?
        .success();
    let t = Instant::now();
    let mut cmd = Command::new(crate::coallab_bin());
    cmd.args(store.coallab_args())
        .args(["demo", "generate", "--samples"])
        .arg(args.samples.to_string())
        .arg("--suppliers")
        .arg(args.suppliers().to_string())
        .arg("--seed")
        .arg(args.seed.to_string())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    let (source, generation) = if has_generator {
        let out = cmd.output()?;
        if !out.status.success() {
            return Err(format!("coallab demo generate failed: {}", out.status).into());
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let json = stdout
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str::<serde_json::Value>(l.trim()).ok())
            .filter(|v| v.is_object())
            .ok_or_else(|| format!("no JSON summary from demo generate: {stdout}"))?;
        ("demo generate".to_string(), json)
    } else {
        // The generator is not in this build: fall back to the demo county (312 samples),
        // which `coallab serve` loads into an empty database.
        eprintln!(
            "[{}] this coallab has no `demo generate`; using the demo county of `coallab serve` instead",
            backend.name()
        );
        let server = Server::start(args, &store, true)?;
        server.stop()?;
        ("demo county".to_string(), serde_json::Value::Null)
    };
    if backend == Backend::Postgres {
        // What autovacuum does on a live database soon after a bulk load: planner statistics,
        // and the visibility map that lets the TAT report read `stages_started_cover` as an
        // index-only scan (without it PostgreSQL 15 chose a sequential scan of `stages`, 1.9 s
        // instead of 0.16 s at 1 000 000 samples).
        store.script("VACUUM (ANALYZE);\n")?;
    }
    let marker = Marker {
        samples: args.samples,
        suppliers: args.suppliers(),
        seed: args.seed,
        sample_rows: sample_rows(&store)?,
        generated_rows: sample_rows(&store)?,
        source,
        seconds: t.elapsed().as_secs_f64(),
        generation,
    };
    std::fs::write(&mpath, serde_json::to_string_pretty(&marker)?)?;
    eprintln!(
        "[{}] generated {} samples in {:.0} s",
        backend.name(),
        marker.sample_rows,
        marker.seconds
    );
    Ok((store, marker))
}

fn copy_sqlite(from: &Path, to: &Path) -> Result<(), Error> {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to)?;
    for suffix in ["", "-wal", "-shm"] {
        let f = from.join(format!("coallab.db{suffix}"));
        if f.exists() {
            std::fs::copy(&f, to.join(format!("coallab.db{suffix}")))?;
        }
    }
    Ok(())
}

/// A fresh working copy of the generated database (file copy; PostgreSQL `CREATE DATABASE …
/// TEMPLATE`), so that what a run writes never reaches the generated data.
pub fn working_copy(args: &Args, base: &Store) -> Result<Store, Error> {
    let t = Instant::now();
    let copy = match &base.pg {
        None => {
            let dir = args.work_dir.join("sqlite-run");
            copy_sqlite(&base.dir, &dir)?;
            Store {
                backend: Backend::Sqlite,
                dir,
                pg: None,
            }
        }
        Some((server, db)) => {
            let run = "coallab_bench_run".to_string();
            let admin = admin_store(args);
            admin.script(&format!("DROP DATABASE IF EXISTS {run} WITH (FORCE);\n"))?;
            admin.script(&format!("CREATE DATABASE {run} TEMPLATE {db};\n"))?;
            Store {
                backend: Backend::Postgres,
                dir: args.work_dir.clone(),
                pg: Some((server.clone(), run)),
            }
        }
    };
    if copy.backend == Backend::Postgres {
        // Fresh statistics and visibility map, as a maintained production database has.
        copy.script("VACUUM (ANALYZE);\n")?;
    }
    eprintln!(
        "[{}] working copy ready in {:.1} s",
        base.backend.name(),
        t.elapsed().as_secs_f64()
    );
    Ok(copy)
}

/// After a run on the generated database itself: records its new sample count in the marker,
/// so the next run still recognises (and reuses) it.
pub fn update_marker(args: &Args, store: &Store, marker: &Marker) -> Result<(), Error> {
    let mut m = marker.clone();
    if m.generated_rows == 0 {
        m.generated_rows = m.sample_rows;
    }
    m.sample_rows = sample_rows(store)?;
    std::fs::write(
        marker_path(args, store.backend),
        serde_json::to_string_pretty(&m)?,
    )?;
    Ok(())
}

/// Removes a working copy.
pub fn drop_copy(args: &Args, copy: &Store) -> Result<(), Error> {
    match &copy.pg {
        None => {
            let _ = std::fs::remove_dir_all(&copy.dir);
        }
        Some((_, db)) => {
            admin_store(args).script(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE);\n"))?;
        }
    }
    Ok(())
}
