//! The import's baseline: the rows `coallab import samples` wrote, put back into the same tables
//! (with all their indexes, constraints and triggers) in one transaction by the database's own
//! loader — the equivalent work without coallab's rules, audit hashing and round trips.
//!
//! After the timed import, the rows it added to every table of the schema are found (see
//! [`new_rows_condition`]), checked against the tables' row counts before and after (every new
//! row must be found, else the benchmark stops), exported, deleted (one transaction, children
//! first: the database is back in its pre-import state) and loaded again, timed:
//! - PostgreSQL: `psql` with `\copy TABLE FROM FILE (FORMAT csv, HEADER)` per table inside
//!   `BEGIN` … `COMMIT` (exported with `\copy (SELECT …) TO FILE (FORMAT csv, HEADER)`; CSV mode
//!   keeps NULL and the empty string apart);
//! - SQLite: the `sqlite3` shell's own dump-and-load path, `.mode insert TABLE` for the export
//!   and the INSERT script read by `sqlite3` inside `BEGIN` … `COMMIT`, with the pragmas of
//!   coallab's connections (`foreign_keys = ON`, `synchronous = NORMAL`) and the import's page
//!   cache (256 MiB), so the loader pays for the same checks and is not slowed by a smaller cache
//!   (`.import` would turn NULLs into empty strings).
//!
//! Afterwards the row counts, the audit chain's last hash and the rows themselves (exported
//! again and compared byte for byte) must equal the post-import state.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::store::{Backend, Store};
use crate::Error;

/// One table of the schema.
#[derive(Debug, Clone)]
struct Table {
    name: String,
    /// Columns with a flag: an integer type.
    columns: Vec<(String, bool)>,
    /// Primary-key columns in key order.
    pk: Vec<String>,
}

impl Table {
    fn has_int(&self, column: &str) -> bool {
        self.columns.iter().any(|(c, int)| c == column && *int)
    }

    /// The single integer primary-key column, if the key is one.
    fn int_key(&self) -> Option<&str> {
        match self.pk.as_slice() {
            [k] if self.has_int(k) => Some(k),
            _ => None,
        }
    }
}

/// The tables of the database, parents before the tables whose foreign keys refer to them.
#[derive(Debug, Clone)]
pub struct Schema {
    tables: Vec<Table>,
}

/// Row counts of every table, maxima of the single integer keys and the audit chain's head.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    counts: BTreeMap<String, u64>,
    maxima: BTreeMap<String, Option<i64>>,
    last_hash: String,
}

/// Rows the import wrote into one table.
#[derive(Debug, Clone, Serialize)]
pub struct TableRows {
    /// The table.
    pub table: String,
    /// Rows the import added (and the loader put back).
    pub rows: u64,
}

/// The equivalent loader's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Reload {
    /// Seconds of the loader putting every row back (one transaction, wall clock of the client).
    pub seconds: f64,
    /// Rows per table, in load order (tables the import did not write are left out).
    pub tables: Vec<TableRows>,
    /// Rows in all tables.
    pub rows: u64,
    /// How the rows were loaded.
    pub method: String,
}

fn q(name: &str) -> String {
    format!("\"{name}\"")
}

fn lit(path: &Path) -> String {
    path.display().to_string().replace('\'', "''")
}

impl Schema {
    /// Reads the tables, their columns, primary keys and foreign keys from the catalog.
    pub fn read(store: &Store) -> Result<Schema, Error> {
        let (columns_sql, fks_sql) = match store.backend {
            Backend::Sqlite => (
                "SELECT m.name, p.name, upper(p.type) LIKE '%INT%', p.pk FROM sqlite_master m \
                 JOIN pragma_table_info(m.name) p WHERE m.type = 'table' \
                 AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid",
                "SELECT m.name, f.\"table\" FROM sqlite_master m \
                 JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table'",
            ),
            // Key positions from 1 (an int2vector's subscripts start at 0).
            Backend::Postgres => (
                "SELECT c.relname, a.attname, \
                 CASE WHEN a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) \
                 THEN 1 ELSE 0 END, \
                 COALESCE(array_position(i.indkey::int2[], a.attnum) + 1, 0) \
                 FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid \
                 LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary \
                 WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace \
                 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY c.relname, a.attnum",
                "SELECT c.relname, p.relname FROM pg_constraint f \
                 JOIN pg_class c ON c.oid = f.conrelid JOIN pg_class p ON p.oid = f.confrelid \
                 WHERE f.contype = 'f' AND f.connamespace = 'public'::regnamespace",
            ),
        };
        // Per table: its columns, and its key columns with their positions.
        type Columns = (Vec<(String, bool)>, Vec<(i64, String)>);
        let mut tables: BTreeMap<String, Columns> = BTreeMap::new();
        for r in store.rows(columns_sql)? {
            let [t, c, int, pk] = r.as_slice() else {
                return Err(format!("unexpected catalog row {r:?}").into());
            };
            let e = tables.entry(t.clone()).or_default();
            e.0.push((c.clone(), int == "1"));
            let pk: i64 = pk.parse()?;
            if pk > 0 {
                e.1.push((pk, c.clone()));
            }
        }
        let mut parents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for r in store.rows(fks_sql)? {
            if let [child, parent] = r.as_slice() {
                if child != parent {
                    parents
                        .entry(child.clone())
                        .or_default()
                        .insert(parent.clone());
                }
            }
        }
        // Parents first (Kahn's order, by name among equals).
        let mut order = Vec::new();
        let mut left: BTreeSet<String> = tables.keys().cloned().collect();
        while !left.is_empty() {
            let ready: Vec<String> = left
                .iter()
                .filter(|t| {
                    parents
                        .get(*t)
                        .is_none_or(|ps| ps.iter().all(|p| !left.contains(p)))
                })
                .cloned()
                .collect();
            if ready.is_empty() {
                return Err(format!("foreign keys form a cycle among {left:?}").into());
            }
            for t in ready {
                left.remove(&t);
                order.push(t);
            }
        }
        Ok(Schema {
            tables: order
                .into_iter()
                .map(|name| {
                    let (columns, mut pk) = tables.remove(&name).unwrap_or_default();
                    pk.sort();
                    Table {
                        name,
                        columns,
                        pk: pk.into_iter().map(|(_, c)| c).collect(),
                    }
                })
                .collect(),
        })
    }

    fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }
}

impl Snapshot {
    /// Counts every table and reads the maxima of the single integer keys.
    pub fn take(store: &Store, schema: &Schema) -> Result<Snapshot, Error> {
        let counts_sql = schema
            .tables
            .iter()
            .map(|t| format!("SELECT '{}', COUNT(*) FROM {}", t.name, q(&t.name)))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let mut counts = BTreeMap::new();
        for r in store.rows(&counts_sql)? {
            counts.insert(r[0].clone(), r[1].trim().parse()?);
        }
        let maxima_sql = schema
            .tables
            .iter()
            .filter_map(|t| {
                t.int_key()
                    .map(|k| format!("SELECT '{}', MAX({}) FROM {}", t.name, q(k), q(&t.name)))
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let mut maxima = BTreeMap::new();
        for r in store.rows(&maxima_sql)? {
            let v = r.get(1).map(|s| s.trim()).unwrap_or("");
            maxima.insert(
                r[0].clone(),
                if v.is_empty() { None } else { Some(v.parse()?) },
            );
        }
        let last_hash = store
            .rows("SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1")?
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .unwrap_or_default();
        Ok(Snapshot {
            counts,
            maxima,
            last_hash,
        })
    }

    fn count(&self, table: &str) -> u64 {
        self.counts.get(table).copied().unwrap_or(0)
    }
}

/// The condition that selects the rows added to `t` since `before`: a single integer key above
/// its maximum then; else a `sample_id` above the samples' maximum then; else a `stage_id` above
/// the stages' maximum then (the import gives its rows ids above every existing one, and no row
/// can have referred to a sample or stage that did not exist). `None`: no rule, so the table's
/// row count must not have changed.
fn new_rows_condition(schema: &Schema, t: &Table, before: &Snapshot) -> Option<String> {
    let above = |column: &str, table: &str| -> Option<String> {
        schema.table(table)?;
        // A table without a single integer key has no maximum: no rule.
        Some(match *before.maxima.get(table)? {
            Some(m) => format!("{} > {m}", q(column)),
            None => "1 = 1".to_string(),
        })
    };
    if let Some(k) = t.int_key() {
        return above(k, &t.name);
    }
    if t.has_int("sample_id") {
        return above("sample_id", "samples");
    }
    if t.has_int("stage_id") {
        return above("stage_id", "stages");
    }
    None
}

/// One table's new rows: the condition, how many, and the export file.
struct Found {
    table: Table,
    condition: String,
    rows: u64,
    file: PathBuf,
}

/// After the import: finds, exports and deletes the rows it wrote, then times the loader
/// putting them back. `dir` holds the export files (removed afterwards).
pub fn equivalent(
    store: &Store,
    schema: &Schema,
    before: &Snapshot,
    dir: &Path,
) -> Result<Reload, Error> {
    let after = Snapshot::take(store, schema)?;
    std::fs::create_dir_all(dir)?;
    let dir = std::fs::canonicalize(dir)?;
    let mut found = Vec::new();
    for t in &schema.tables {
        let added = after
            .count(&t.name)
            .checked_sub(before.count(&t.name))
            .ok_or_else(|| format!("the import removed rows from {}", t.name))?;
        let Some(condition) = new_rows_condition(schema, t, before) else {
            if added != 0 {
                return Err(format!(
                    "the import added {added} rows to {}, which has no rule to find them",
                    t.name
                )
                .into());
            }
            continue;
        };
        let rows: u64 = store
            .value(&format!(
                "SELECT COUNT(*) FROM {} WHERE {condition}",
                q(&t.name)
            ))?
            .trim()
            .parse()?;
        if rows != added {
            return Err(format!(
                "{}: {added} rows added by the import, {rows} found by `{condition}`",
                t.name
            )
            .into());
        }
        if rows > 0 {
            let ext = match store.backend {
                Backend::Sqlite => "sql",
                Backend::Postgres => "csv",
            };
            found.push(Found {
                table: t.clone(),
                condition,
                rows,
                file: dir.join(format!("{}.{ext}", t.name)),
            });
        }
    }
    export(store, &found, |f| f.file.clone())?;
    // Back to the state before the import: one transaction, children first.
    let mut delete = String::from("BEGIN;\n");
    for f in found.iter().rev() {
        delete.push_str(&format!(
            "DELETE FROM {} WHERE {};\n",
            q(&f.table.name),
            f.condition
        ));
    }
    delete.push_str("COMMIT;\n");
    if store.backend == Backend::Sqlite {
        delete.insert_str(0, "PRAGMA foreign_keys = ON;\n");
    }
    store.script(&delete)?;
    if store.backend == Backend::Postgres {
        // The import wrote into tables without dead rows; so does the loader.
        let names: Vec<String> = found.iter().map(|f| q(&f.table.name)).collect();
        store.script(&format!("VACUUM (ANALYZE) {};\n", names.join(", ")))?;
    }
    let restored = Snapshot::take(store, schema)?;
    if restored.counts != before.counts || restored.last_hash != before.last_hash {
        return Err(format!(
            "deleting the imported rows did not restore the state before the import: \
             {:?} / {} against {:?} / {}",
            restored.counts, restored.last_hash, before.counts, before.last_hash
        )
        .into());
    }
    let method;
    let mut load = String::new();
    match store.backend {
        Backend::Sqlite => {
            method = "sqlite3: the `.mode insert` dump read in one transaction \
                      (foreign_keys = ON, synchronous = NORMAL, cache_size = -262144)"
                .to_string();
            load.push_str(
                "PRAGMA foreign_keys = ON;\nPRAGMA synchronous = NORMAL;\n\
                 PRAGMA cache_size = -262144;\nBEGIN;\n",
            );
            for f in &found {
                load.push_str(&format!(".read '{}'\n", lit(&f.file)));
            }
        }
        Backend::Postgres => {
            method =
                "psql: \\copy TABLE FROM FILE (FORMAT csv, HEADER) per table in one transaction"
                    .to_string();
            load.push_str("BEGIN;\n");
            for f in &found {
                load.push_str(&format!(
                    "\\copy {} FROM '{}' WITH (FORMAT csv, HEADER true)\n",
                    q(&f.table.name),
                    lit(&f.file)
                ));
            }
        }
    }
    load.push_str("COMMIT;\n");
    let seconds = store.time_script(&load)?;
    let reloaded = Snapshot::take(store, schema)?;
    if reloaded.counts != after.counts || reloaded.last_hash != after.last_hash {
        return Err(format!(
            "the loader did not restore the state after the import: {:?} / {} against {:?} / {}",
            reloaded.counts, reloaded.last_hash, after.counts, after.last_hash
        )
        .into());
    }
    // The rows read back must be the rows the import wrote, byte for byte.
    let again = |f: &Found| f.file.with_extension("again");
    export(store, &found, again)?;
    for f in &found {
        if std::fs::read(&f.file)? != std::fs::read(again(f))? {
            return Err(format!(
                "{}: the rows after the loader differ from the rows the import wrote",
                f.table.name
            )
            .into());
        }
    }
    for f in &found {
        let _ = std::fs::remove_file(&f.file);
        let _ = std::fs::remove_file(again(f));
    }
    let _ = std::fs::remove_dir(&dir);
    Ok(Reload {
        seconds,
        rows: found.iter().map(|f| f.rows).sum(),
        tables: found
            .iter()
            .map(|f| TableRows {
                table: f.table.name.clone(),
                rows: f.rows,
            })
            .collect(),
        method,
    })
}

/// Writes each table's new rows to the file `path` names, in key order, and checks the SQLite
/// dumps hold as many INSERT statements as rows.
fn export(store: &Store, found: &[Found], path: impl Fn(&Found) -> PathBuf) -> Result<(), Error> {
    let mut script = String::new();
    for f in found {
        let order = if f.table.pk.is_empty() {
            String::new()
        } else {
            let cols: Vec<String> = f.table.pk.iter().map(|c| q(c)).collect();
            format!(" ORDER BY {}", cols.join(", "))
        };
        let select = format!(
            "SELECT * FROM {} WHERE {}{order}",
            q(&f.table.name),
            f.condition
        );
        match store.backend {
            Backend::Sqlite => script.push_str(&format!(
                ".mode insert {}\n.output '{}'\n{select};\n.output stdout\n",
                f.table.name,
                lit(&path(f))
            )),
            Backend::Postgres => script.push_str(&format!(
                "\\copy ({select}) TO '{}' WITH (FORMAT csv, HEADER true)\n",
                lit(&path(f))
            )),
        }
    }
    store.script(&script)?;
    if store.backend == Backend::Sqlite {
        for f in found {
            let text = std::fs::read_to_string(path(f))?;
            let n = text
                .lines()
                .filter(|l| l.starts_with("INSERT INTO "))
                .count() as u64;
            if n != f.rows {
                return Err(format!(
                    "{}: {n} INSERT statements exported for {} rows",
                    path(f).display(),
                    f.rows
                )
                .into());
            }
        }
    }
    Ok(())
}
