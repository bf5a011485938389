//! Row structs read from the database (one per table that the workflow reads whole).
#![allow(missing_docs)] // field names are the column names; see migrations for meaning

use serde::Serialize;

/// A `samples` row, columns in table order.
#[derive(Debug, Clone, Serialize, diesel::Queryable)]
pub struct SampleRow {
    pub id: i64,
    pub sample_code: String,
    pub lab_code: String,
    pub lab_id: i64,
    pub supplier_id: i64,
    pub state: String,
    pub coal_category: String,
    pub sampled_at: i64,
    pub sampled_on: String,
    pub test_seal_no: String,
    pub retained_seal_no: String,
    pub retained_discard_on: Option<String>,
    pub retained_condition: Option<String>,
    pub limit_sets_frozen: String,
    pub registered_at: i64,
    pub received_at: Option<i64>,
    pub result_received_at: Option<i64>,
    pub appeal_closes_at: Option<i64>,
    pub retest_requested_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub final_verdict: Option<String>,
    pub current_stage: Option<String>,
    pub due_at: Option<i64>,
    pub state_reason: Option<String>,
    pub idempotency_key: Option<String>,
    pub version: i32,
    pub created_by: Option<i64>,
}

/// A `sampling_records` row (the sampling record fields of STANDARDS.md §7).
#[derive(Debug, Clone, Serialize, diesel::Queryable)]
pub struct SamplingRecordRow {
    pub sample_id: i64,
    pub claimed_grade: String,
    pub lot_no: String,
    pub lot_mass_t: Option<String>,
    pub top_size_mm: Option<i32>,
    pub sampling_method: String,
    pub increments: Option<i32>,
    pub gross_mass_kg: Option<String>,
    pub samplers: String,
    pub retained_custodian: String,
    pub retained_location: String,
    pub prepared_on: Option<String>,
}

/// A `stages` row.
#[derive(Debug, Clone, Serialize, diesel::Queryable)]
pub struct StageRow {
    pub id: i64,
    pub sample_id: i64,
    pub stage: String,
    pub started_at: i64,
    pub due_at: i64,
    pub submitted_at: Option<i64>,
    pub released_at: Option<i64>,
    pub released_by: Option<i64>,
    pub verdict: Option<String>,
    pub verdict_detail: Option<String>,
    pub results: Option<String>,
    pub reproducibility: Option<String>,
    pub report_no: Option<String>,
}

/// A `determinations` row: one value as typed.
#[derive(Debug, Clone, Serialize, diesel::Queryable)]
pub struct DeterminationRow {
    pub id: i64,
    pub stage_id: i64,
    pub analysis: String,
    pub run: i32,
    pub seq: i32,
    pub value_text: String,
    pub entered_by: Option<i64>,
    pub entered_at: i64,
}

/// An `analysis_runs` row: the server's precision outcome for one run of one analysis.
#[derive(Debug, Clone, Serialize, diesel::Queryable)]
pub struct AnalysisRunRow {
    pub stage_id: i64,
    pub analysis: String,
    pub run: i32,
    pub outcome: String,
    pub mean: Option<String>,
    pub detail: String,
}

/// A `stage_pauses` row.
#[derive(Debug, Clone, Serialize, diesel::Queryable)]
pub struct PauseRow {
    pub id: i64,
    pub stage_id: i64,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub reason: String,
}
