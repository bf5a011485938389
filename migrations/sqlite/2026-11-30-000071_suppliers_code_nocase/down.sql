DROP INDEX suppliers_code_lower;
