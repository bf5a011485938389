DROP INDEX stages_started;
DROP TABLE working_clock_builds;
DROP TABLE working_clock;
