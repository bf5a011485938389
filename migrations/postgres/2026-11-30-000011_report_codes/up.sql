-- Verification codes of test reports (检验报告): one unguessable code per released stage's
-- report number, issued when the report document is first produced (src/service/reports_doc.rs)
-- and printed on it; GET /verify/{report_no}?code=… checks it without a login.
CREATE TABLE report_codes (
    report_no TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    issued_by BIGINT REFERENCES users(id)
);
