DROP INDEX IF EXISTS tokens_name_search;
