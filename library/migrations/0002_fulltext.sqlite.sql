-- SQLite: two FTS5 indexes over the lines, kept by triggers: words (phrase search) and trigrams (fuzzy
-- candidates for misspelt or misheard words). Their rowid is the line's.
CREATE VIRTUAL TABLE lines_fts USING fts5 (text, tokenize = 'unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE lines_trigram USING fts5 (text, tokenize = 'trigram');
CREATE TRIGGER lines_fulltext_insert AFTER INSERT ON lines BEGIN
    INSERT INTO lines_fts (rowid, text) VALUES (new.rowid, new.text);
    INSERT INTO lines_trigram (rowid, text) VALUES (new.rowid, lower(new.text));
END;
CREATE TRIGGER lines_fulltext_delete AFTER DELETE ON lines BEGIN
    DELETE FROM lines_fts WHERE rowid = old.rowid;
    DELETE FROM lines_trigram WHERE rowid = old.rowid;
END;
