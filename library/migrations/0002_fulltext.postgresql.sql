-- PostgreSQL: a tsvector of each line (phrases, and the words fuzzy search expands a query to), and pg_trgm
-- over the vocabulary when the server lets us have the extension (else fuzzy search looks words up by their
-- first letters: library/fulltext.py).
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
        EXECUTE 'CREATE INDEX vocabulary_trgm ON vocabulary USING gin (word gin_trgm_ops)';
    END IF;
END $$;
