DROP INDEX users_username_lower;
CREATE INDEX samples_retained_seal ON samples(retained_seal_no);
CREATE INDEX samples_test_seal ON samples(test_seal_no);
DROP INDEX suppliers_licence_lower;
DROP INDEX samples_retained_seal_lower;
DROP INDEX samples_test_seal_lower;
