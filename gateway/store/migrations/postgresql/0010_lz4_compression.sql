-- Each event's payload and each robot's snapshot are large enough to be compressed
-- (TOASTed). PostgreSQL's default, pglz, was about a third of the server's CPU in a bulk
-- import; lz4 takes about 30% less of it for about 5% more disk (BENCHMARKS.md, "Where
-- the import's time goes"). Only values written from now on are compressed with lz4:
-- those already stored stay pglz, and both read alike. Nothing is rewritten, so this is
-- instant on a store of any size. A server built without lz4 (or older than PostgreSQL
-- 14, which had no choice) keeps pglz: the server lists lz4 among the values of
-- `default_toast_compression` only when it was built with it.
DO $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM pg_settings
        WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)
    ) THEN
        EXECUTE 'ALTER TABLE events ALTER COLUMN payload SET COMPRESSION lz4';
        EXECUTE 'ALTER TABLE robots ALTER COLUMN snapshot SET COMPRESSION lz4';
    END IF;
END
$$;
