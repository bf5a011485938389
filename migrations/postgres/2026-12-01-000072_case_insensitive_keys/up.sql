-- Seal numbers are unique in a lab regardless of letter case: 't-tour-1' beside 'T-TOUR-1' is
-- refused (src/service/samples.rs `register`, src/service/import_samples.rs). These indexes
-- serve that check, `lower(seal) IN (…)`, without scanning the samples. They are not UNIQUE
-- (a seal may serve as test seal of one sample and be checked against retained seals of
-- others, and an older database may hold such a pair); the check runs under an advisory lock
-- on PostgreSQL and in SQLite's single writer.
-- Keep in step with the other backend (docs/performance.md "Indexes and query plans").
CREATE INDEX samples_test_seal_lower ON samples (lower(test_seal_no));
CREATE INDEX samples_retained_seal_lower ON samples (lower(retained_seal_no));
-- Licence numbers likewise, among suppliers (src/service/reference.rs `check_licence_free`).
CREATE INDEX suppliers_licence_lower ON suppliers (lower(licence_no));
-- Usernames likewise (src/service/auth.rs `add_user`: 'TECH-WANG' beside 'tech-wang').
CREATE INDEX users_username_lower ON users (lower(username));
-- The exact-case seal indexes of migration 000050 served only the check these replace.
DROP INDEX samples_test_seal;
DROP INDEX samples_retained_seal;
