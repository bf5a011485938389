-- The regulator's status lookup reads a sample's stages (deadline, release, verdict, report
-- number) in order: this index covers it (an index-only scan once VACUUM has marked the pages
-- all-visible), so the wide stages rows with their results JSON are not read
-- (docs/performance.md "What was tuned").
-- Keep in step with the other backend (docs/performance.md "Indexes and query plans").
CREATE INDEX stages_sample_cover ON stages(sample_id, id) INCLUDE (stage, started_at, due_at, released_at, verdict, report_no);
