DROP TRIGGER token_name_search_update;
DROP TRIGGER token_name_search_delete;
DROP TRIGGER token_name_search_insert;
DROP TABLE token_name_search;
