-- People and accountability (issue 4): passwords, browser sessions, login throttling, and the
-- revisions of released stages (amendments). Keep in step with migrations/postgres.

-- argon2id PHC strings ($argon2id$v=19$m=…,t=…,p=…$salt$hash); one per user, none by default.
CREATE TABLE user_passwords (
    user_id BIGINT PRIMARY KEY REFERENCES users(id),
    password_hash TEXT NOT NULL CHECK (length(password_hash) >= 20),
    changed_at BIGINT NOT NULL
);

-- Browser sessions: the cookie holds a 256-bit random id; only its SHA-256 is stored.
CREATE TABLE sessions (
    id_sha256 TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ip TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expires ON sessions(expires_at);

-- Failed-login counters per key ('user:<name>' or 'ip:<address>'), shared by every server.
CREATE TABLE login_throttle (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL CHECK (failures >= 0),
    last_failed_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL
);

-- Revisions of a released stage. Revision 1 is the original release (copied when the first
-- amendment is proposed); later ones are amendments with a reason, released by a second person.
-- Rows are never updated except pending → released / withdrawn.
CREATE TABLE stage_revisions (
    id INTEGER PRIMARY KEY,
    stage_id BIGINT NOT NULL REFERENCES stages(id),
    revision INTEGER NOT NULL CHECK (revision >= 1),
    status TEXT NOT NULL CHECK (status IN ('pending','released','withdrawn')),
    determinations TEXT NOT NULL,
    means TEXT NOT NULL,
    results TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('pass','fail')),
    verdict_detail TEXT NOT NULL,
    reproducibility TEXT,
    reason TEXT NOT NULL CHECK (length(reason) >= 1),
    proposed_by BIGINT REFERENCES users(id),
    proposed_at BIGINT NOT NULL,
    released_by BIGINT REFERENCES users(id),
    released_at BIGINT,
    report_no TEXT UNIQUE,
    replaces_report_no TEXT,
    UNIQUE (stage_id, revision)
);
CREATE INDEX stage_revisions_stage ON stage_revisions(stage_id, status);
