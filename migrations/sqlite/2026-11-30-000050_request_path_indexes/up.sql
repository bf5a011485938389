-- Indexes for request paths that scanned a whole table, found by tests/query_plans/ (each
-- statement the server issues, explained on both backends); docs/performance.md "Indexes and
-- query plans" says which request uses which index. Keep in step with the other backend.

-- Registration refuses a seal number already recorded in the lab (src/service/samples.rs
-- `register`), and a samples CSV import recognises a row by supplier and test seal.
CREATE INDEX samples_test_seal ON samples(test_seal_no);
CREATE INDEX samples_retained_seal ON samples(retained_seal_no);
-- Period filters on the local sampling date: the sample list (from/to) and the regulator
-- reports (suppliers, non-compliant).
CREATE INDEX samples_sampled_on ON samples(sampled_on);
-- Lab staff see their own lab's samples: the list, its count, newest first.
CREATE INDEX samples_lab_sampled ON samples(lab_id, sampled_at);
-- The periodic job that closes failed samples whose appeal window has passed (every minute,
-- src/service/appeal_close.rs): state initial_released with appeal_closes_at <= now.
CREATE INDEX samples_state_appeal ON samples(state, appeal_closes_at);
-- The audit trail filtered by actor or action, in chain order.
CREATE INDEX audit_events_actor ON audit_events(actor, seq);
CREATE INDEX audit_events_action ON audit_events(action, seq);
-- A replaced test report names its replacement at /verify (src/service/reports_doc.rs).
CREATE INDEX stage_revisions_replaces ON stage_revisions(replaces_report_no);
