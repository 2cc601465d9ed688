DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_class WHERE relname = 'tokens_name_search' AND relkind = 'i') THEN
        ALTER INDEX tokens_name_search RESET (fastupdate);
    END IF;
END
$$;
