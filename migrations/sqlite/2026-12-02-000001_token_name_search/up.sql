-- Searching token names (`name_key LIKE '%text%'`) by trigrams, as PostgreSQL does with
-- pg_trgm: an FTS5 index of the names with the trigram tokenizer, over the tokens table's own
-- rows (external content, by rowid; VACUUM keeps the rowids). A search whose text few names
-- contain reads those rows, not every token of the project. Triggers keep it in step.
CREATE VIRTUAL TABLE token_name_search USING fts5 (name_key, tokenize = 'trigram', content = 'tokens');
INSERT INTO token_name_search (token_name_search) VALUES ('rebuild');
CREATE TRIGGER token_name_search_insert AFTER INSERT ON tokens BEGIN
    INSERT INTO token_name_search (rowid, name_key) VALUES (new.rowid, new.name_key);
END;
CREATE TRIGGER token_name_search_delete AFTER DELETE ON tokens BEGIN
    INSERT INTO token_name_search (token_name_search, rowid, name_key) VALUES ('delete', old.rowid, old.name_key);
END;
CREATE TRIGGER token_name_search_update AFTER UPDATE OF name_key ON tokens BEGIN
    INSERT INTO token_name_search (token_name_search, rowid, name_key) VALUES ('delete', old.rowid, old.name_key);
    INSERT INTO token_name_search (rowid, name_key) VALUES (new.rowid, new.name_key);
END;
