-- PostgreSQL: a tsvector of each line (phrase search), and pg_trgm for fuzzy candidates when the server
-- lets us have the extension (else fuzzy search falls back to word matching: library/fulltext.py).
ALTER TABLE lines ADD COLUMN tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED;
CREATE INDEX lines_tsv ON lines USING gin (tsv);
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available: fuzzy lyric search matches words';
END $$;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        EXECUTE 'CREATE INDEX lines_trgm ON lines USING gin (lower(text) gin_trgm_ops)';
    END IF;
END $$;
