-- Retained samples over time (issue 9): how long a retained sample (存查样) is kept after the
-- release of its last stage, and the record of its discard. STANDARDS.md §6: "commonly 2–3
-- months after reporting" is LOW-MEDIUM, so the period is configuration, not code.

CREATE TABLE retention_policies (
    scope TEXT PRIMARY KEY NOT NULL CHECK (length(scope) BETWEEN 1 AND 64),
    keep_calendar_days INTEGER NOT NULL CHECK (keep_calendar_days BETWEEN 0 AND 3650),
    source TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE retained_discards (
    sample_id BIGINT PRIMARY KEY NOT NULL REFERENCES samples(id),
    discarded_at BIGINT NOT NULL,
    discarded_by BIGINT REFERENCES users(id),
    reason TEXT NOT NULL CHECK (length(reason) >= 1)
);

CREATE INDEX samples_retained_discard_on ON samples(retained_discard_on);
