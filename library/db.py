"""The library's database: embedded SQLite in DATA_DIR, or PostgreSQL when DATABASE_URL is set.

Both speak the same SQL here (written with `?` placeholders, turned into `%s` for psycopg) over the one
schema of migrations/ (plain versioned SQL files: `NNNN_name.sql` for both, `NNNN_name.<dialect>.sql` for
one). Each thread of each process keeps its own connection (a forked worker opens new ones). On PostgreSQL
with the `vector` extension, a setup step after the migrations adds the vector columns (library/pgvector.py).
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from . import pgvector

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_MIGRATION_RE = re.compile(r"^(\d{4})_[a-z0-9_]+(?:\.(sqlite|postgresql))?\.sql$")
PG_CONNECT_SECONDS = 5  # a server that does not answer: /health and the routes say so instead of hanging
PG_PING_IDLE_SECONDS = 1.0  # a PostgreSQL connection idle this long is tried (SELECT 1) before it is used
SQLITE_BUSY_SECONDS = 30.0  # a writer waits this long for another process' write to end
_ADVISORY_LOCK = 0x6C696272  # 'libr': one migrating process at a time on PostgreSQL
_WRITE_LOCK = 0x6C696277  # 'libw': one writing transaction at a time on PostgreSQL, as SQLite's BEGIN IMMEDIATE
VECTOR_SEARCH_MODES = ("auto", "exact")  # LIBRARY_VECTOR_SEARCH: pgvector when present, or always numpy
EXACT_LABEL = "exact (numpy)"


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Database:
    """Connections, transactions and migrations for one database."""

    def __init__(self, *, url: str, sqlite_path: Path, vector_search: str = "auto"):
        if vector_search not in VECTOR_SEARCH_MODES:
            raise ValueError(f"LIBRARY_VECTOR_SEARCH must be one of {', '.join(VECTOR_SEARCH_MODES)}")
        self.url = url
        self.dialect = "postgresql" if url else "sqlite"
        self.sqlite_path = sqlite_path
        self.vector_search = vector_search
        self._indexed_models: set[tuple[str, int]] = set()
        self._local = threading.local()
        self.features: dict[str, Any] = {}

    # -- connections ----------------------------------------------------------
    def _connection(self) -> Any:
        conn, pid = getattr(self._local, "conn", None), getattr(self._local, "pid", None)
        now = time.monotonic()
        if conn is not None and pid == os.getpid():
            idle = now - getattr(self._local, "used", now)
            self._local.used = now
            # a PostgreSQL restart (or pg_terminate_backend) closes idle connections unseen: one left idle is
            # tried first, so the thread's next request is not the one that finds it dead (a stranger's first
            # library request in every API thread answered 500 after a restart)
            if self.dialect != "postgresql" or idle < PG_PING_IDLE_SECONDS or _answers(conn):
                return conn
            log.warning("library database: a connection was closed by the server; connecting again")
            conn.close()
        conn = self._connect()
        self._local.conn, self._local.pid, self._local.used = conn, os.getpid(), now
        if self.dialect == "postgresql" and self.features and not self._schema_current(conn):
            # connected to a database without the library's tables (dropped and made again, restored from an
            # older dump): they are made now, not answered with "relation does not exist" until a restart
            log.warning("library database: the schema is missing or old on a new connection; migrating")
            self.migrate()
        return conn

    def _schema_current(self, conn: Any) -> bool:
        try:
            row = conn.execute("SELECT count(*) FROM schema_version").fetchone()
        except Exception:  # no such table: a new, empty database
            return False
        return int(row[0]) >= len(migration_files(self.dialect))

    def _connect(self) -> Any:
        if self.dialect == "postgresql":
            import psycopg  # only with DATABASE_URL: SQLite needs nothing beyond the standard library

            return psycopg.connect(self.url, autocommit=True, connect_timeout=PG_CONNECT_SECONDS)
        self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.sqlite_path, timeout=SQLITE_BUSY_SECONDS, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def sql(self, text: str) -> str:
        # psycopg's placeholders are %s, and a literal % (pg_trgm's %> operator) is written %%
        return text.replace("%", "%%").replace("?", "%s") if self.dialect == "postgresql" else text

    def query(self, text: str, params: Sequence[Any] = ()) -> list[tuple]:
        try:
            cur = self._connection().execute(self.sql(text), tuple(params))
            return list(cur.fetchall())
        except Exception:
            self._drop_broken()
            raise

    def _drop_broken(self) -> None:
        """A PostgreSQL connection the server closed (a restart) is replaced on the next call."""
        conn = getattr(self._local, "conn", None)
        if self.dialect == "postgresql" and conn is not None and conn.closed:
            self._local.conn = None

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One atomic write; two writers queue, one after the other (SQLite: BEGIN IMMEDIATE; PostgreSQL: an
        advisory lock held to the end of the transaction). Under PostgreSQL's READ COMMITTED, two reindexes of an
        owner at once had interleaved: one's delete of a track's lines missed the lines the other had just
        inserted and then deleted its track row, leaving lines that made every later insert of that track fail
        (UniqueViolation, the track gone from the library for good). Writes are small (one track each)."""
        conn = self._connection()
        if self.dialect == "postgresql":
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
                    yield Transaction(self, conn)
            except Exception:
                self._drop_broken()
                raise
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield Transaction(self, conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- schema -----------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Apply the migrations this database has not had yet; returns their names."""
        applied: list[str] = []
        with self.transaction() as tx:
            if self.dialect == "postgresql":
                tx.execute("SELECT pg_advisory_xact_lock(?)", (_ADVISORY_LOCK,))
            tx.execute("CREATE TABLE IF NOT EXISTS schema_version (name TEXT PRIMARY KEY, "
                       "applied_at DOUBLE PRECISION NOT NULL)")
            done = {row[0] for row in tx.query("SELECT name FROM schema_version")}
            for path in migration_files(self.dialect):
                if path.name in done:
                    continue
                tx.script(path.read_text(encoding="utf-8"))
                tx.execute("INSERT INTO schema_version (name, applied_at) VALUES (?, ?)", (path.name, time.time()))
                applied.append(path.name)
            pgvector_version = None
            if self.dialect == "postgresql" and self.vector_search == "auto":
                pgvector_version = pgvector.setup(tx)
        if applied:
            log.info("library database (%s): applied %s", self.dialect, ", ".join(applied))
        self.features = self._detect_features(pgvector_version=pgvector_version)
        return applied

    @property
    def uses_pgvector(self) -> bool:
        """The database searches the vectors (else numpy does)."""
        return bool(self.features.get("pgvector"))

    @property
    def writes_vector_columns(self) -> bool:
        """pgvector's columns exist: every process fills them, one set to exact search too, so that the
        processes that search with pgvector miss no row."""
        return self.uses_pgvector or bool(self.features.get("vector_columns"))

    def ensure_vector_index(self, *, model: str, dim: int) -> None:
        """The HNSW index of one embedding model's passages, made once (under the migration lock: two processes
        writing their first passages at once would otherwise race to create it)."""
        if not self.uses_pgvector or (model, dim) in self._indexed_models:
            return
        with self.transaction() as tx:
            tx.execute("SELECT pg_advisory_xact_lock(?)", (_ADVISORY_LOCK,))
            pgvector.ensure_index(tx, model=model, dim=dim)
        self._indexed_models.add((model, dim))

    def _detect_features(self, *, pgvector_version: str | None) -> dict[str, Any]:
        if self.dialect == "sqlite":
            return {"backend": "sqlite", "fulltext": "fts5", "vectors": EXACT_LABEL, "fuzzy": "fts5 trigram"}
        trgm = bool(self.query("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'"))
        features: dict[str, Any] = {"backend": "postgresql", "fulltext": "tsvector",
                                    "fuzzy": "pg_trgm" if trgm else "words"}
        if pgvector_version is not None:
            return {**features, "vectors": pgvector.VECTORS_LABEL, "pgvector": pgvector_version}
        # absent, or not wanted (LIBRARY_VECTOR_SEARCH=exact): the owner's vectors are searched in numpy
        available = bool(self.query("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"))
        columns = bool(self.query("SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
                                  "AND table_name = 'passages' AND column_name = 'embedding'"))
        return {**features, "vectors": EXACT_LABEL, "pgvector_available": available,
                **({"vector_columns": True} if columns else {})}


def _answers(conn: Any) -> bool:
    try:
        conn.execute("SELECT 1")
        return True
    except Exception:
        return False


class Transaction:
    def __init__(self, db: Database, conn: Any):
        self.db, self.conn = db, conn

    def execute(self, text: str, params: Sequence[Any] = ()) -> None:
        self.conn.execute(self.db.sql(text), tuple(params))

    def executemany(self, text: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self.db.dialect == "postgresql":
            with self.conn.cursor() as cur:
                cur.executemany(self.db.sql(text), [tuple(r) for r in rows])
        else:
            self.conn.executemany(text, [tuple(r) for r in rows])

    def query(self, text: str, params: Sequence[Any] = ()) -> list[tuple]:
        return list(self.conn.execute(self.db.sql(text), tuple(params)).fetchall())

    def script(self, text: str) -> None:
        """A migration file: several statements, no parameters."""
        if self.db.dialect == "postgresql":
            self.conn.execute(text)
            return
        for statement in split_statements(text):
            self.conn.execute(statement)


def migration_files(dialect: str) -> list[Path]:
    files = []
    for path in MIGRATIONS_DIR.iterdir():
        found = _MIGRATION_RE.fullmatch(path.name)
        if found and found.group(2) in (None, dialect):
            files.append(path)
    return sorted(files, key=lambda p: (p.name[:4], p.name))


def split_statements(script: str) -> list[str]:
    """SQLite statements of a script (sqlite3.complete_statement tells where one ends, triggers included)."""
    out, current = [], ""
    for line in script.splitlines(keepends=True):
        if not current and (not line.strip() or line.lstrip().startswith("--")):
            continue
        current += line
        if sqlite3.complete_statement(current):
            out.append(current.strip())
            current = ""
    if current.strip():
        out.append(current.strip())
    return out
