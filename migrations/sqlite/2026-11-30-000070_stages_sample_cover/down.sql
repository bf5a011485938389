DROP INDEX stages_sample_cover;
