-- The regulator's status lookup reads a sample's stages (deadline, release, verdict, report
-- number) in order. report_no is the last column of the wide stages row, after the results and
-- reproducibility JSON, so reading it pulled in the whole row and its overflow pages; at
-- 1 000 000 samples that copying was the largest single cost of the lookup
-- (docs/performance.md "What was tuned"). This index covers the lookup: the stages of one
-- sample in id order with every column it reads, without touching the rows.
-- Keep in step with the other backend (docs/performance.md "Indexes and query plans").
CREATE INDEX stages_sample_cover ON stages(sample_id, id, stage, started_at, due_at, released_at, verdict, report_no);
