-- Results and per-limit verdicts of every released stage revision as rows (they are also kept
-- as JSON on the stage for display). Values are exact decimals as TEXT.
CREATE TABLE stage_results (
    stage_id BIGINT NOT NULL REFERENCES stages(id),
    revision INTEGER NOT NULL CHECK (revision >= 1),
    parameter TEXT NOT NULL CHECK (parameter IN ('ad','std','vdaf','qnet_ar','fc_ad','aad','st_ad','mad','mt')),
    basis TEXT NOT NULL CHECK (basis IN ('ar','ad','d','daf')),
    value TEXT NOT NULL,
    reported TEXT NOT NULL,
    PRIMARY KEY (stage_id, revision, parameter)
);

CREATE TABLE limit_verdicts (
    stage_id BIGINT NOT NULL REFERENCES stages(id),
    revision INTEGER NOT NULL CHECK (revision >= 1),
    limit_set_id TEXT NOT NULL,
    parameter TEXT NOT NULL CHECK (parameter IN ('ad','std','vdaf','qnet_ar','fc_ad','aad','st_ad','mad','mt')),
    operator TEXT NOT NULL CHECK (operator IN ('le','lt','ge','gt')),
    limit_value TEXT NOT NULL,
    limit_decimals INTEGER NOT NULL CHECK (limit_decimals BETWEEN 0 AND 6),
    method TEXT NOT NULL CHECK (method IN ('full_value','rounded_value')),
    value TEXT NOT NULL,
    rounded_value TEXT NOT NULL,
    compared_value TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('pass','fail')),
    source TEXT NOT NULL,
    PRIMARY KEY (stage_id, revision, limit_set_id, parameter)
);
CREATE INDEX limit_verdicts_fail ON limit_verdicts(verdict, parameter);
