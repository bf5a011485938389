//! Explaining a statement on either backend and finding whole-table and whole-index passes
//! in its plan.

use std::collections::{BTreeMap, BTreeSet};

use coallab::db::Db;
use diesel::sql_types::{Integer, Text};
use diesel::{PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};

use crate::{EXCLUDED_REQUESTS, SMALL_TABLES};

#[derive(QueryableByName)]
struct SqlitePlanRow {
    #[diesel(sql_type = Integer)]
    id: i32,
    #[diesel(sql_type = Integer)]
    parent: i32,
    #[diesel(sql_type = Text)]
    detail: String,
}

#[derive(QueryableByName)]
struct PgPlanRow {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    pub line: String,
}

const KEYWORDS: &[&str] = &[
    "WHERE",
    "ON",
    "JOIN",
    "INNER",
    "LEFT",
    "RIGHT",
    "OUTER",
    "CROSS",
    "GROUP",
    "ORDER",
    "LIMIT",
    "SET",
    "USING",
    "VALUES",
    "SELECT",
    "UNION",
    "HAVING",
    "OFFSET",
    "RETURNING",
    "WINDOW",
];

/// Table name (and alias) → table, from the FROM / JOIN / UPDATE / INTO clauses of `sql`.
pub fn aliases(sql: &str) -> BTreeMap<String, String> {
    let mut tokens = Vec::new();
    let mut cur = String::new();
    for ch in sql.chars() {
        if ch.is_ascii_alphanumeric() || ch == '_' {
            cur.push(ch);
        } else {
            if !cur.is_empty() {
                tokens.push(std::mem::take(&mut cur));
            }
            if ch == '(' || ch == ')' || ch == ',' {
                tokens.push(ch.to_string());
            }
        }
    }
    if !cur.is_empty() {
        tokens.push(cur);
    }
    let mut out = BTreeMap::new();
    for i in 0..tokens.len() {
        let t = tokens[i].to_ascii_uppercase();
        if !matches!(t.as_str(), "FROM" | "JOIN" | "UPDATE" | "INTO") {
            continue;
        }
        let Some(table) = tokens.get(i + 1) else {
            continue;
        };
        if table == "(" {
            continue;
        }
        out.insert(table.clone(), table.clone());
        let mut j = i + 2;
        if tokens.get(j).is_some_and(|a| a.eq_ignore_ascii_case("AS")) {
            j += 1;
        }
        if let Some(alias) = tokens.get(j) {
            let upper = alias.to_ascii_uppercase();
            if alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !KEYWORDS.contains(&upper.as_str())
            {
                out.entry(alias.clone()).or_insert_with(|| table.clone());
            }
        }
    }
    out
}

fn small(table: &str) -> bool {
    SMALL_TABLES.iter().any(|(t, _)| *t == table)
}

/// One finding: a statement, the requests that issued it, its plan, and what it scans.
pub struct Finding {
    pub sql: String,
    pub requests: BTreeSet<String>,
    pub plan: String,
    pub scans: Vec<Scan>,
}

/// A whole-table pass found in a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    pub table: String,
    /// `table scan` (no index at all) or `full index scan` (an index walked end to end).
    pub kind: &'static str,
    pub line: String,
}

/// SQLite: `SCAN x` (no index) and `SCAN x USING [COVERING] INDEX i` (the whole index) of a
/// table that is not small.
fn sqlite_scans(
    plan: &[SqlitePlanRow],
    names: &BTreeMap<String, String>,
    tables: &BTreeSet<String>,
) -> Vec<Scan> {
    let mut out = Vec::new();
    for r in plan {
        let Some(rest) = r.detail.strip_prefix("SCAN ") else {
            continue;
        };
        let name = rest.split_whitespace().next().unwrap_or("");
        let Some(table) = names.get(name).filter(|t| tables.contains(*t)) else {
            continue;
        };
        if small(table) {
            continue;
        }
        out.push(Scan {
            table: table.clone(),
            kind: if rest.contains(" USING ") {
                "full index scan"
            } else {
                "table scan"
            },
            line: r.detail.clone(),
        });
    }
    out
}

/// PostgreSQL: `Seq Scan on t` (no index could serve) and index scans without an `Index Cond`
/// (the whole index) of a table that is not small.
fn pg_scans(plan: &[String]) -> Vec<Scan> {
    let mut out = Vec::new();
    for (i, l) in plan.iter().enumerate() {
        let table_after = |marker: &str| {
            l.split(marker)
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .map(|t| t.trim_matches('"').to_string())
        };
        if let Some(t) = table_after("Seq Scan on ") {
            if !small(&t) {
                out.push(Scan {
                    table: t,
                    kind: "table scan",
                    line: l.trim().to_string(),
                });
            }
            continue;
        }
        if !(l.contains("Index Scan") || l.contains("Index Only Scan")) || l.contains("Bitmap") {
            continue;
        }
        let Some(t) = table_after(" on ") else {
            continue;
        };
        let has_cond = plan[i + 1..]
            .iter()
            .take_while(|n| !n.contains("->"))
            .any(|n| n.contains("Index Cond:"));
        if !has_cond && !small(&t) {
            out.push(Scan {
                table: t,
                kind: "full index scan",
                line: l.trim().to_string(),
            });
        }
    }
    out
}

/// The indexes a plan reads (SQLite `USING [COVERING] INDEX i`, PostgreSQL `… using i on t`
/// and `Bitmap Index Scan on i`).
pub fn indexes_in(plan: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in plan.lines() {
        for marker in [
            "USING INDEX ",
            "USING COVERING INDEX ",
            " using ",
            "Bitmap Index Scan on ",
        ] {
            if let Some(rest) = line.split(marker).nth(1) {
                if let Some(name) = rest.split_whitespace().next() {
                    out.insert(name.trim_matches('"').to_string());
                }
            }
        }
    }
    out
}

pub fn placeholders(sql: &str) -> usize {
    let b = sql.as_bytes();
    let mut max = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            let mut j = i + 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if let Ok(n) = sql[i + 1..j].parse::<usize>() {
                max = max.max(n);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    max
}

pub enum Explainer {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

impl Explainer {
    /// The plan as text lines and the whole-table passes in it.
    pub fn explain(
        &mut self,
        sql: &str,
        tables: &BTreeSet<String>,
    ) -> Result<(String, Vec<Scan>), String> {
        match self {
            Explainer::Sqlite(c) => {
                let rows: Vec<SqlitePlanRow> =
                    diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
                        .load(c)
                        .map_err(|e| e.to_string())?;
                let text = rows
                    .iter()
                    .map(|r| format!("{:>3} {:>3} {}", r.id, r.parent, r.detail))
                    .collect::<Vec<_>>()
                    .join("\n");
                Ok((text, sqlite_scans(&rows, &aliases(sql), tables)))
            }
            Explainer::Pg(c) => {
                use diesel::connection::SimpleConnection;
                let _ = c.batch_execute("DEALLOCATE ALL");
                c.batch_execute(&format!("PREPARE plan_check AS {sql}"))
                    .map_err(|e| format!("PREPARE: {e}"))?;
                let args = vec!["NULL"; placeholders(sql)].join(", ");
                let exec = if args.is_empty() {
                    "EXPLAIN EXECUTE plan_check".to_string()
                } else {
                    format!("EXPLAIN EXECUTE plan_check({args})")
                };
                let rows: Vec<PgPlanRow> =
                    diesel::sql_query(exec).load(c).map_err(|e| e.to_string())?;
                let lines: Vec<String> = rows.into_iter().map(|r| r.line).collect();
                let scans = pg_scans(&lines);
                Ok((lines.join("\n"), scans))
            }
        }
    }
}

pub fn excluded(request: &str) -> bool {
    EXCLUDED_REQUESTS.iter().any(|(r, _)| *r == request)
}

pub fn table_names(db: &Db) -> BTreeSet<String> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let rows: Vec<Name> = db
        .read(|tx| {
            Ok(match tx {
                coallab::db::Tx::Sqlite(c) => diesel::sql_query(
                    "SELECT name FROM sqlite_master WHERE type = 'table'",
                )
                .load(&mut **c)?,
                coallab::db::Tx::Pg(c) => diesel::sql_query(
                    "SELECT CAST(tablename AS TEXT) AS name FROM pg_tables WHERE schemaname = 'public'",
                )
                .load(&mut **c)?,
            })
        })
        .expect("table names");
    rows.into_iter().map(|r| r.name).collect()
}
