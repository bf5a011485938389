DROP INDEX stage_revisions_replaces;
DROP INDEX audit_events_action;
DROP INDEX audit_events_actor;
DROP INDEX samples_state_appeal;
DROP INDEX samples_lab_sampled;
DROP INDEX samples_sampled_on;
DROP INDEX samples_retained_seal;
DROP INDEX samples_test_seal;
