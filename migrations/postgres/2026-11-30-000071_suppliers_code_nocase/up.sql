-- Supplier codes are unique regardless of letter case: a new code that differs from an existing
-- one only in case ('sp-02' beside 'SP-02') is refused (src/service/reference.rs,
-- `check_code_free`). This index serves that check without scanning the suppliers. It is not
-- UNIQUE so that an older database holding such a pair still migrates.
-- Keep in step with the other backend (docs/performance.md "Indexes and query plans").
CREATE INDEX suppliers_code_lower ON suppliers (lower(code));
