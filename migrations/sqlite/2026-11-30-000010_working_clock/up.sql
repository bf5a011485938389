-- The working-time clock of each (calendar, time zone) pair used by a lab: one row per local
-- date, derived from calendar_days by src/service/reports_clock.rs with the domain calendar
-- (src/domain/calendar.rs), so that SQL can measure working time and aggregate turnaround
-- (docs/reports.md). W(t) = cum_before + working * (t - day_start) for the row holding t is
-- the working time in milliseconds from the clock's first day to instant t.
CREATE TABLE working_clock (
    calendar_code TEXT NOT NULL,
    timezone TEXT NOT NULL,
    day_start BIGINT NOT NULL,
    day_end BIGINT NOT NULL,
    day TEXT NOT NULL,
    iso_week TEXT NOT NULL,
    working INTEGER NOT NULL CHECK (working IN (0, 1)),
    cum_before BIGINT NOT NULL,
    PRIMARY KEY (calendar_code, timezone, day_start)
);

-- Which calendar content each clock was built from (SHA-256 of its calendar_days rows).
CREATE TABLE working_clock_builds (
    calendar_code TEXT NOT NULL,
    timezone TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    built_at BIGINT NOT NULL,
    PRIMARY KEY (calendar_code, timezone)
);

CREATE INDEX stages_started ON stages(started_at);
