DROP TABLE limit_verdicts;
DROP TABLE stage_results;
