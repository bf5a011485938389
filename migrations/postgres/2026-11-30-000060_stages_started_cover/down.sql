CREATE INDEX stages_started ON stages(started_at);
DROP INDEX stages_started_cover;
