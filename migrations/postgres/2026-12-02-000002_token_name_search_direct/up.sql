-- The trigram index takes new entries into its own pages at once, not into a pending list that
-- every search reads until a vacuum merges it (after the usage updates of one benchmark run,
-- 168 pages: a search matching one token read 194 pages instead of 26). Its writes are the
-- few new rows: token creations and the usage updates that find no room.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_class WHERE relname = 'tokens_name_search' AND relkind = 'i') THEN
        ALTER INDEX tokens_name_search SET (fastupdate = off);
        PERFORM gin_clean_pending_list('tokens_name_search'::regclass);
    END IF;
END
$$;
