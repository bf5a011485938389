DROP INDEX samples_retained_discard_on;
DROP TABLE retained_discards;
DROP TABLE retention_policies;
