-- The TAT and overdue reports read every stage started in their period (at 1 000 000 samples
-- a year holds about 570 000): a covering index gives them the columns they need without
-- reading the wide stages rows (results, verdict details), src/service/reports_tat_load.rs.
-- It replaces stages_started (started_at alone), whose ranges it serves as well.
-- Keep in step with the other backend (docs/performance.md "Indexes and query plans").
CREATE INDEX stages_started_cover ON stages(started_at, stage, sample_id, due_at, released_at);
DROP INDEX stages_started;
