-- coallab schema, SQLite flavour. Keep in step with migrations/postgres (same version names).
-- Instants are BIGINT milliseconds since the Unix epoch (UTC); calendar dates are TEXT 'YYYY-MM-DD';
-- analytical values are TEXT holding the exact decimal as typed (never REAL).

CREATE TABLE labs (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 32),
    name TEXT NOT NULL,
    timezone TEXT NOT NULL DEFAULT 'Asia/Shanghai',
    calendar_code TEXT NOT NULL DEFAULT 'cn',
    created_at BIGINT NOT NULL
);

CREATE TABLE jurisdictions (
    code TEXT PRIMARY KEY CHECK (length(code) BETWEEN 1 AND 64),
    name TEXT NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('nation', 'region', 'province', 'city', 'county')),
    parent_code TEXT REFERENCES jurisdictions(code),
    initial_test_working_days INTEGER CHECK (initial_test_working_days > 0),
    retest_working_days INTEGER CHECK (retest_working_days > 0),
    appeal_window_calendar_days INTEGER CHECK (appeal_window_calendar_days > 0)
);

CREATE TABLE suppliers (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 64),
    name TEXT NOT NULL CHECK (length(name) >= 1),
    kind TEXT NOT NULL CHECK (kind IN ('production_enterprise', 'sale_point')),
    town TEXT NOT NULL,
    licence_no TEXT NOT NULL UNIQUE,
    jurisdiction_code TEXT NOT NULL REFERENCES jurisdictions(code),
    version INTEGER NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);
CREATE INDEX suppliers_town ON suppliers(town);

CREATE TABLE limit_sets (
    id TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    name TEXT NOT NULL,
    source TEXT NOT NULL CHECK (length(source) >= 1),
    jurisdiction_code TEXT NOT NULL REFERENCES jurisdictions(code),
    effective_from TEXT NOT NULL,
    effective_to TEXT CHECK (effective_to IS NULL OR effective_to >= effective_from),
    coal_categories TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

CREATE TABLE limits (
    id INTEGER PRIMARY KEY,
    limit_set_id TEXT NOT NULL REFERENCES limit_sets(id) ON DELETE CASCADE,
    parameter TEXT NOT NULL CHECK (parameter IN ('ad','std','vdaf','qnet_ar','fc_ad','aad','st_ad','mad','mt')),
    operator TEXT NOT NULL CHECK (operator IN ('le','lt','ge','gt')),
    value TEXT NOT NULL,
    decimals INTEGER NOT NULL CHECK (decimals BETWEEN 0 AND 6),
    method TEXT NOT NULL CHECK (method IN ('full_value','rounded_value')),
    UNIQUE (limit_set_id, parameter)
);

CREATE TABLE calendar_days (
    calendar_code TEXT NOT NULL,
    day TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('rest_day','working_day')),
    occasion TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (calendar_code, day)
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE CHECK (length(username) BETWEEN 1 AND 64),
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('technician','reviewer','regulator','auditor','admin')),
    lab_id BIGINT REFERENCES labs(id),
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    token_sha256 TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL DEFAULT '',
    expires_at BIGINT NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);

CREATE TABLE samples (
    id INTEGER PRIMARY KEY,
    sample_code TEXT NOT NULL UNIQUE,
    lab_code TEXT NOT NULL UNIQUE,
    lab_id BIGINT NOT NULL REFERENCES labs(id),
    supplier_id BIGINT NOT NULL REFERENCES suppliers(id),
    state TEXT NOT NULL CHECK (state IN ('registered','received','initial_testing','initial_review',
        'initial_released','retest_testing','retest_review','retest_released','closed','rejected','cancelled')),
    coal_category TEXT NOT NULL DEFAULT '',
    sampled_at BIGINT NOT NULL,
    sampled_on TEXT NOT NULL,
    test_seal_no TEXT NOT NULL,
    retained_seal_no TEXT NOT NULL,
    retained_discard_on TEXT,
    retained_condition TEXT,
    limit_sets_frozen TEXT NOT NULL,
    registered_at BIGINT NOT NULL,
    received_at BIGINT,
    result_received_at BIGINT,
    appeal_closes_at BIGINT,
    retest_requested_at BIGINT,
    closed_at BIGINT,
    final_verdict TEXT CHECK (final_verdict IN ('pass','fail')),
    current_stage TEXT CHECK (current_stage IN ('initial_test','retest')),
    due_at BIGINT,
    state_reason TEXT,
    idempotency_key TEXT UNIQUE,
    version INTEGER NOT NULL DEFAULT 1,
    created_by BIGINT REFERENCES users(id)
);
CREATE INDEX samples_supplier_sampled ON samples(supplier_id, sampled_at);
CREATE INDEX samples_state_due ON samples(state, due_at);
CREATE INDEX samples_sampled ON samples(sampled_at);
CREATE INDEX samples_verdict ON samples(final_verdict, sampled_at);

-- The sampling record of GB/T 475-2008 / GB 474-2008 (STANDARDS.md §7), one row per sample.
CREATE TABLE sampling_records (
    sample_id BIGINT PRIMARY KEY REFERENCES samples(id),
    claimed_grade TEXT NOT NULL DEFAULT '',
    lot_no TEXT NOT NULL DEFAULT '',
    lot_mass_t TEXT,
    top_size_mm INTEGER CHECK (top_size_mm > 0),
    sampling_method TEXT NOT NULL DEFAULT 'manual' CHECK (sampling_method IN ('manual','mechanical')),
    increments INTEGER CHECK (increments > 0),
    gross_mass_kg TEXT,
    samplers TEXT NOT NULL,
    retained_custodian TEXT NOT NULL DEFAULT '',
    retained_location TEXT NOT NULL DEFAULT '',
    prepared_on TEXT
);

CREATE TABLE stages (
    id INTEGER PRIMARY KEY,
    sample_id BIGINT NOT NULL REFERENCES samples(id),
    stage TEXT NOT NULL CHECK (stage IN ('initial_test','retest')),
    started_at BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    submitted_at BIGINT,
    released_at BIGINT,
    released_by BIGINT REFERENCES users(id),
    verdict TEXT CHECK (verdict IN ('pass','fail')),
    verdict_detail TEXT,
    results TEXT,
    reproducibility TEXT,
    report_no TEXT UNIQUE,
    UNIQUE (sample_id, stage)
);
CREATE INDEX stages_open_due ON stages(released_at, due_at);
CREATE INDEX stages_released ON stages(stage, released_at);

CREATE TABLE stage_pauses (
    id INTEGER PRIMARY KEY,
    stage_id BIGINT NOT NULL REFERENCES stages(id),
    started_at BIGINT NOT NULL,
    ended_at BIGINT CHECK (ended_at IS NULL OR ended_at >= started_at),
    reason TEXT NOT NULL CHECK (length(reason) >= 1)
);
CREATE INDEX stage_pauses_stage ON stage_pauses(stage_id);

CREATE TABLE determinations (
    id INTEGER PRIMARY KEY,
    stage_id BIGINT NOT NULL REFERENCES stages(id),
    analysis TEXT NOT NULL CHECK (analysis IN ('mt','mad','aad','vad','st_ad','qgr_ad','had')),
    run INTEGER NOT NULL CHECK (run >= 1),
    seq INTEGER NOT NULL CHECK (seq BETWEEN 1 AND 4),
    value_text TEXT NOT NULL,
    entered_by BIGINT REFERENCES users(id),
    entered_at BIGINT NOT NULL,
    UNIQUE (stage_id, analysis, run, seq)
);

CREATE TABLE analysis_runs (
    stage_id BIGINT NOT NULL REFERENCES stages(id),
    analysis TEXT NOT NULL CHECK (analysis IN ('mt','mad','aad','vad','st_ad','qgr_ad','had')),
    run INTEGER NOT NULL CHECK (run >= 1),
    outcome TEXT NOT NULL CHECK (outcome IN ('needs_another_determination','accepted','discard_and_restart')),
    mean TEXT,
    detail TEXT NOT NULL,
    PRIMARY KEY (stage_id, analysis, run)
);

CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    sample_id BIGINT,
    before_json TEXT,
    after_json TEXT,
    reason TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE
);
CREATE INDEX audit_events_sample ON audit_events(sample_id);
CREATE INDEX audit_events_at ON audit_events(at);

CREATE TABLE idempotency_keys (
    key TEXT PRIMARY KEY,
    endpoint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
