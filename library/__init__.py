"""The music library: every finished analysis indexed per track and owner, searchable (issue 15).

db.py (SQLite or PostgreSQL, migrations/), extract.py (a track from its session's results), store.py (rows),
embedding.py (MiniLM), vectors.py (exact vector search in memory), fulltext.py (lyric search), search.py
(modes, similar tracks), camelot.py (keys), descriptors.py (similarity weights), service.py (the facade the
API and the worker use).
"""
