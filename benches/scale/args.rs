//! Command-line options of the scale benchmark.

use std::path::PathBuf;

use clap::Parser;

/// Scale benchmark: coallab on SQLite and PostgreSQL against the database's own limits.
#[derive(Parser, Debug, Clone)]
#[command(name = "scale", about)]
pub struct Args {
    /// Samples in the generated database.
    #[arg(long, default_value_t = 1_000_000)]
    pub samples: u64,
    /// Suppliers in the generated database (default: samples / 2000, at least 20).
    #[arg(long)]
    pub suppliers: Option<u64>,
    /// Seed of `coallab demo generate`.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Backends to measure, comma-separated: sqlite, postgres.
    #[arg(long, default_value = "sqlite,postgres", value_delimiter = ',')]
    pub backends: Vec<String>,
    /// Concurrent clients of the HTTP figures, comma-separated.
    #[arg(long, default_value = "8,64", value_delimiter = ',')]
    pub clients: Vec<usize>,
    /// Seconds of each HTTP measurement (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of warm-up before each HTTP measurement (not counted).
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Timed repetitions of each report, statistics request and direct SQL query (the median
    /// is reported; one more untimed run comes first).
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
    /// Rows of the CSV import (default: samples / 10, between 200 and 100 000).
    #[arg(long)]
    pub import_rows: Option<u64>,
    /// Directory for generated databases, working copies and CSV files.
    #[arg(long, default_value = "target/bench-scale")]
    pub work_dir: PathBuf,
    /// PostgreSQL server URL without a database name (databases are created under it).
    #[arg(
        long,
        env = "COALLAB_BENCH_PG",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    pub pg_url: String,
    /// HTTP worker threads of `coallab serve`.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Database pool size of `coallab serve`.
    #[arg(long, default_value_t = 16)]
    pub pool_size: u32,
    /// Threads of the load generator (it shares the machine with the server).
    #[arg(long, default_value_t = 1)]
    pub load_threads: usize,
    /// Measure on a fresh copy of the generated database (needs its size free on disk again:
    /// about 22 GB for SQLite at 1 000 000 samples). Without it the run measures on the
    /// generated database itself and adds its entry samples and imported rows to it.
    #[arg(long)]
    pub copy: bool,
    /// Regenerate the database even when a matching one exists.
    #[arg(long)]
    pub regenerate: bool,
    /// Write the figures as JSON to this file too.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Figures to measure, comma-separated: lookup, entry, reports, import (default all; the
    /// health baseline runs whenever lookup or entry does).
    #[arg(
        long,
        default_value = "lookup,entry,reports,import",
        value_delimiter = ','
    )]
    pub only: Vec<String>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    pub bench: bool,
}

impl Args {
    /// Whether figure `name` is measured.
    pub fn wants(&self, name: &str) -> bool {
        self.only.iter().any(|o| o.trim() == name)
    }

    /// Suppliers to generate.
    pub fn suppliers(&self) -> u64 {
        self.suppliers.unwrap_or((self.samples / 2000).max(20))
    }

    /// Rows of the import file.
    pub fn import_rows(&self) -> u64 {
        self.import_rows
            .unwrap_or((self.samples / 10).clamp(200, 100_000))
    }
}
