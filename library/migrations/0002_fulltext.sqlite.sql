-- SQLite: an FTS5 word index over the lines (phrases, and the words fuzzy search expands a query to) and a
-- trigram index over the vocabulary (the known words close to a misspelt one), kept by triggers.
CREATE VIRTUAL TABLE lines_fts USING fts5 (text, tokenize = 'unicode61 remove_diacritics 2');
CREATE TRIGGER lines_fulltext_insert AFTER INSERT ON lines BEGIN
    INSERT INTO lines_fts (rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER lines_fulltext_delete AFTER DELETE ON lines BEGIN
    DELETE FROM lines_fts WHERE rowid = old.rowid;
END;
CREATE VIRTUAL TABLE vocabulary_trigram USING fts5 (word, tokenize = 'trigram');
CREATE TRIGGER vocabulary_trigram_insert AFTER INSERT ON vocabulary BEGIN
    INSERT INTO vocabulary_trigram (rowid, word) VALUES (new.rowid, new.word);
END;
