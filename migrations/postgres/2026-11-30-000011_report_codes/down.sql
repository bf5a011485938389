DROP TABLE report_codes;
