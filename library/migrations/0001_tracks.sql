-- The library's tables, the same on SQLite and PostgreSQL (types both read the same way: TEXT, INTEGER,
-- DOUBLE PRECISION, BOOLEAN, BYTEA). The session files stay the source of truth: every row here can be
-- rebuilt from them (POST /library/reindex).

CREATE TABLE tracks (
    track_id TEXT PRIMARY KEY,              -- a hash of (owner, session_id, filename): stable across reindexing
    owner TEXT NOT NULL,
    session_id TEXT NOT NULL,
    filename TEXT NOT NULL,
    duration_seconds DOUBLE PRECISION,
    key_label TEXT,                         -- 'A minor'
    key_mode TEXT,                          -- 'major' | 'minor'
    camelot TEXT,                           -- '8A'
    key_confidence DOUBLE PRECISION,
    tempo_bpm DOUBLE PRECISION,
    metre TEXT,                             -- '4/4'
    loudness_lufs DOUBLE PRECISION,
    has_vocals BOOLEAN,                     -- NULL: not known (no transcript, no stems)
    chords_summary TEXT,
    descriptors TEXT,                       -- JSON: the named values the similarity vector is made of
    descriptor_vector BYTEA,                -- float32 in library/descriptors.py's order, NaN where unmeasured
    transcript_text TEXT,
    analysis_text TEXT,
    sources TEXT NOT NULL,                  -- JSON: the result files this row was built from
    indexed_at DOUBLE PRECISION NOT NULL,
    UNIQUE (owner, session_id, filename)
);
CREATE INDEX tracks_owner ON tracks (owner, track_id);
CREATE INDEX tracks_owner_session ON tracks (owner, session_id);

-- Transcript lines (Whisper segments) with their times and word times, for lyric search.
CREATE TABLE lines (
    track_id TEXT NOT NULL,
    line_no INTEGER NOT NULL,
    owner TEXT NOT NULL,
    text TEXT NOT NULL,
    start_seconds DOUBLE PRECISION,
    end_seconds DOUBLE PRECISION,
    words TEXT,                             -- JSON [[word, start, end], ...]
    PRIMARY KEY (track_id, line_no)
);
CREATE INDEX lines_owner ON lines (owner);

-- Text passages with their embeddings (transcript chunks, lyrics and LLM analyses), for semantic search.
CREATE TABLE passages (
    track_id TEXT NOT NULL,
    passage_no INTEGER NOT NULL,
    owner TEXT NOT NULL,
    kind TEXT NOT NULL,                     -- 'transcript' | 'lyrics_analysis' | 'analysis'
    source TEXT NOT NULL,                   -- the result file it came from
    text TEXT NOT NULL,
    start_seconds DOUBLE PRECISION,
    end_seconds DOUBLE PRECISION,
    text_hash TEXT NOT NULL,                -- with `model`: an unchanged passage keeps its vector on reindexing
    model TEXT NOT NULL,
    vector BYTEA NOT NULL,                  -- float32, L2-normalised
    PRIMARY KEY (track_id, passage_no)
);
CREATE INDEX passages_owner ON passages (owner);

-- Every word of every line (all owners; never read back to a user): fuzzy lyric search looks a misspelt or
-- misheard query word up here first, then searches the lines for the words it is close to.
CREATE TABLE vocabulary (
    word TEXT PRIMARY KEY
);

-- Bumped on every write: processes keep vectors in memory and reload them when it moved.
CREATE TABLE library_meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO library_meta (name, value) VALUES ('generation', 0);
