//! Coal-lab rules as pure functions: no database, no HTTP, no I/O.
//!
//! Each module is one rule with its source standard named in its doc comment.
//! See docs/rules.md for a plain-words explanation of each.

pub mod basis;
pub mod calendar;
pub mod calendar_csv;
pub mod calorific;
pub mod deadline;
pub mod decimal;
pub mod effective;
pub mod lifecycle;
pub mod limits;
pub mod precision_table;
pub mod repeatability;
pub mod reproducibility;
pub mod requirements;
pub mod results;
pub mod rounding;
pub mod stats;
pub mod stats_control;
pub mod stats_trend;
pub mod terms;
pub mod turnaround;
pub mod verdict;
pub mod working_time;
