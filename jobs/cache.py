"""Results cached by the audio's content and the options: the same file analysed again with the same options
(in any session of the same owner) is answered from the earlier result in milliseconds, marked cached.

- The key: owner, job type, a digest of the options, and the SHA-256 of the upload's bytes (computed once
  per upload and kept beside it as `.<name>.sha256`). Only deterministic analyses are cached: the DSP jobs
  (features, pitch), Whisper, and the LLM jobs when greedy (temperature 0) or seeded.
- A worker records each file's result after a job succeeds. A job-creating request whose every file hits
  gets its result files copied into its own session (renamed after its upload's stem) and a job record that
  is finished at once: no queue, no worker. An entry whose files are gone (session deleted) or changed since
  (the same upload analysed again with other options writes the same file names) is a miss: each file's SHA-256
  is recorded with the entry and checked before a hit is copied, so a cache never hands out a mixed set.
- An entry names its files by the data directory's own name (`DATA_DIR/.data-dir-id`) and their folder within
  it: another data directory on the same Redis (a second instance, a test) misses instead of copying the first
  one's files, and a machine that mounts the shared directory at another path still finds them.
- An entry names the analysis code that made it (`code_version`: a digest of worker/'s Python files and model
  weights): a result of other code, an upgrade's fix or a model's improvement, is a miss. Entries had been served
  for their 30 days whatever had changed since: a 5.1 file's loudness as it was measured before its LFE was left out.
  The code judged current is the workers' (each publishes its digest at its start, `publish_code_version`), not
  the API's: an API process left running through an upgrade whose workers were restarted had kept serving the old
  code's entries (its digest computed once, at its start) and missing every new one.
- The LLM jobs (gemma_3n, lyrics) also read the session's results of the upload: its transcript and its music
  analysis (worker/audio_llm/grounding.py), whose words and measurements are their prompt. Their key holds a digest
  of those files as the request finds them (`inputs_digest`: each one's SHA-256, or its absence): a lyrics job
  asked again after the transcript changed (Whisper run again with another model or language, or the first one
  run after a pitch job had added its measurements) had been answered with the earlier transcript's analysis, and
  one in another session of the same upload, with no transcript or pitch result there, with this one's.
- A copied JSON file is the source file itself (a transcript's segments, an analysis), retargeted to the new
  upload's names and marked cached; never the job's summary written over it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis

from worker.audio_llm.files import GROUNDING_PATTERNS
from worker.files import (
    atomic_path,
    drop_earlier,
    recording_writes,
    remove_stale_siblings,
    safe_name,
    take_back,
    write_json_atomic,
    write_text_atomic,
)
from worker.options import JobOptions

from . import keys
from .keys import text

if TYPE_CHECKING:
    from storage import SessionRoot

log = logging.getLogger(__name__)

CACHEABLE = frozenset({"features", "pitch", "whisper", "gemma_3n", "lyrics"})
READS_SESSION = frozenset({"gemma_3n", "lyrics"})  # jobs whose prompt holds the session's results (GROUNDING_PATTERNS)
SAMPLED = frozenset({"gemma_3n", "lyrics"})  # cached only when greedy or seeded
TTL_SECONDS = 30 * 24 * 3600
CHUNK_BYTES = 1024 * 1024


WORKER_CODE = Path(__file__).resolve().parent.parent / "worker"
CODE_SUFFIXES = frozenset({".py", ".npz"})  # what the results depend on: code and the weights it ships


def code_version(folder: Path | None = None) -> str:
    """A digest of the analysis code: every Python file and shipped model weight file (`.npz`: the key, chord and
    beat networks) under `folder` (worker/: once per process), by path and content."""
    return _worker_code_version() if folder is None else _code_digest(folder)


@functools.lru_cache(maxsize=1)
def _worker_code_version() -> str:
    return _code_digest(WORKER_CODE)


def _code_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.suffix in CODE_SUFFIXES and p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cacheable(job_type: str, options: JobOptions) -> bool:
    if job_type not in CACHEABLE:
        return False
    if getattr(options, "image", None) is not None:  # the key holds the image's name, not its content
        return False
    if job_type in SAMPLED:
        o = options.to_dict()
        return o.get("temperature") == 0 or o.get("seed") is not None
    return True


def file_digest(path: Path) -> str:
    """SHA-256 of a result file (small: JSON, text, a picture, a MIDI file), read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def inputs_digest(job_type: str, results_dir: Path | None, stem: str) -> str:
    """For a job that reads the session's results of upload `stem` (READS_SESSION): a digest of those files as they
    are now (each one's content, or its absence); "" for the others."""
    if job_type not in READS_SESSION or results_dir is None:
        return ""
    digest = hashlib.sha256()
    for pattern in GROUNDING_PATTERNS:
        path = Path(results_dir) / safe_name(pattern.format(stem=stem))
        try:
            digest.update(f"{pattern}={file_digest(path)}\0".encode())
        except OSError:  # none (or not readable: the job skips it too)
            digest.update(f"{pattern}=-\0".encode())
    return ":" + digest.hexdigest()[:24]


def remembered_digest(path: Path) -> str | None:
    """The SHA-256 remembered beside an upload, if it was taken of the file as it is now (size and modification
    time); else None (never hashed here: a listing must not read every upload)."""
    memo = path.with_name(f".{path.name}.sha256")
    try:
        stat = path.stat()
        remembered_stamp, _, remembered = memo.read_text().strip().partition(" ")
    except FileNotFoundError:
        return None
    return remembered if remembered and remembered_stamp == f"{stat.st_size}:{stat.st_mtime_ns}" else None


def content_digest(path: Path) -> str:
    """SHA-256 of an upload, remembered beside it with the size and modification time it was taken at: a file
    changed since (a failing disk, an operator's hand) is hashed again, never answered from a stale digest."""
    memo = path.with_name(f".{path.name}.sha256")
    remembered = remembered_digest(path)
    if remembered is not None:
        return remembered
    stat = path.stat()
    stamp = f"{stat.st_size}:{stat.st_mtime_ns}"
    digest = file_digest(path)
    try:  # an optimisation only: a full disk must not fail the request that hashed the file
        write_text_atomic(memo, f"{stamp} {digest}")
    except OSError:
        pass
    return digest


@dataclass(frozen=True)
class Hit:
    result: dict[str, Any]
    results_dir: Path  # where the cached result's files are
    stem: str  # of the upload they were made for
    name: str | None = None  # that upload's file name (entries of older versions: unknown)


# Deletes each of KEYS whose entry was recorded for the session ARGV[1] names (`"session_id": "<id>"` in its
# JSON); an entry the same audio and options recorded since for another session of the owner stays.
_FORGET_LUA = """
local n = 0
for _, key in ipairs(KEYS) do
  local entry = redis.call('GET', key)
  if entry and string.find(entry, ARGV[1], 1, true) then
    redis.call('DEL', key)
    n = n + 1
  end
end
return n
"""


class ResultCache:
    def __init__(self, client: redis.Redis):
        self.r = client
        self._forget = self.r.register_script(_FORGET_LUA)

    def _key(self, owner: str, job_type: str, options: JobOptions, digest: str) -> str:
        options_digest = hashlib.sha256(json.dumps(options.to_dict(), sort_keys=True).encode()).hexdigest()[:24]
        return keys.result_cache(owner, job_type, options_digest, digest)

    def remember(self, *, owner: str, job_type: str, options: JobOptions, audio_path: Path, results_dir: Path,
                 result: Mapping[str, Any], session_id: str, root: SessionRoot) -> None:
        # a result whose files hold more than it computed (a pitch run with `include` merged into the upload's
        # earlier result: worker/music/merged.py) is not what another session's request for it should get
        if not cacheable(job_type, options) or result.get("cached") or result.get("merged_with"):
            return
        files = result.get("files") or []
        digests = {name: file_digest(Path(results_dir) / name) for name in files}
        try:
            within = str(Path(results_dir).resolve().relative_to(root.root))
        except ValueError:  # not under the data directory (never, but then only this path can find them)
            within = None
        entry = {"session_id": session_id, "result": dict(result), "results_dir": str(results_dir),
                 "data_dir": root.identity(), "within": within,
                 "stem": Path(audio_path).stem, "name": Path(audio_path).name, "digests": digests,
                 "code": code_version()}
        key = self._key(owner, job_type, options, content_digest(Path(audio_path))
                        + inputs_digest(job_type, Path(results_dir), Path(audio_path).stem))
        pipe = self.r.pipeline()
        pipe.set(key, json.dumps(entry, default=str), ex=TTL_SECONDS)
        pipe.sadd(keys.session_cache(owner, session_id), key)  # what deleting the session deletes
        pipe.expire(keys.session_cache(owner, session_id), TTL_SECONDS)
        pipe.execute()

    def publish_code_version(self) -> None:
        """Say which analysis code runs the jobs from now on (a worker at its start, its digest taken then: the code it
        loaded, not what may be on disk later). The last worker to start names it; an entry of any other code is a
        miss, which only costs a run."""
        self.r.set(keys.CODE_VERSION, code_version())

    def current_code_version(self) -> str:
        """The code the workers run (as the last to start published it); this process' own where none has said."""
        published = self.r.get(keys.CODE_VERSION)
        return text(published) if published else code_version()

    def forget_session(self, *, owner: str, session_id: str) -> int:
        """Delete the entries recorded for the session (its results, in Redis, after the session is gone);
        the number deleted. Entries of versions before the session's index are left to their TTL (misses:
        their files are gone)."""
        index = keys.session_cache(owner, session_id)
        cached = [text(k) for k in self.r.smembers(index)]
        needle = f'"session_id": {json.dumps(session_id)}'
        deleted = sum(int(self._forget(keys=cached[i:i + 500], args=[needle])) for i in range(0, len(cached), 500))
        self.r.delete(index)
        return deleted

    def find(self, *, owner: str, job_type: str, options: JobOptions, audio_path: Path,
             root: SessionRoot, results_dir: Path | None = None) -> Hit | None:
        """The entry of `audio_path` analysed with `options`, where its files are unchanged; for a job that reads
        its session's results (READS_SESSION), those in `results_dir` (the requesting session's) as they are now."""
        if not cacheable(job_type, options):
            return None
        if job_type in READS_SESSION and results_dir is None:  # what it would read is not known: never a hit
            return None
        digest = content_digest(Path(audio_path)) + inputs_digest(job_type, results_dir, Path(audio_path).stem)
        raw = self.r.get(self._key(owner, job_type, options, digest))
        if raw is None:
            return None
        entry = json.loads(text(raw))
        if entry.get("code") != self.current_code_version():  # other analysis code made it (none named: older)
            return None
        recorded_in, here = entry.get("data_dir"), root.identity()
        if recorded_in and here and recorded_in != here:  # another data directory's files: never copied
            return None
        within = entry.get("within")
        results_dir = root.root / within if within else Path(entry["results_dir"])
        hit = Hit(entry["result"], results_dir, entry["stem"], entry.get("name"))
        files = hit.result.get("files") or []
        digests = entry.get("digests") or {}  # none: an entry from before digests were kept, not trusted
        if not files or set(files) - set(digests):
            return None
        try:
            unchanged = all(file_digest(hit.results_dir / f) == digests[f] for f in files)
        except OSError:  # a file gone (session deleted) or unreadable
            return None
        return hit if unchanged else None


def adopt(hit: Hit, *, audio_path: Path, results_dir: Path) -> dict[str, Any]:
    """Copy a hit's files into `results_dir`, renamed after `audio_path`'s stem; the result as it would be for
    `audio_path`, marked cached (its JSON files rewritten to say so)."""
    stem = Path(audio_path).stem
    renamed = {name: rename(name, hit.stem, stem) for name in hit.result.get("files") or []}
    before = hit.name or hit.result.get("filename")
    # names in the results: the result files', and the upload's wherever a value is it (a transcript's
    # source_file named the first upload in a stranger's copy)
    names = {**renamed, **({before: Path(audio_path).name} if isinstance(before, str) and before else {})}
    result = _retarget(hit.result, names, filename=Path(audio_path).name)
    result["cached"] = True
    results_dir.mkdir(parents=True, exist_ok=True)
    # a full disk midway leaves no picture without its JSON, and the files of an earlier run it replaced are put
    # back (worker/files.py `take_back`)
    with recording_writes() as written:
        try:
            for old, new in renamed.items():
                source, target = hit.results_dir / old, results_dir / new
                if source.resolve() == target.resolve():
                    continue
                if new.endswith(".txt"):  # a report names its upload: the new one's (a stranger's named the first)
                    write_text_atomic(target, _cached_text(source, names))
                elif not new.endswith(".json"):
                    with atomic_path(target) as tmp:  # never a half copy, should the disk fill up
                        shutil.copyfile(source, tmp)
            for old, new in renamed.items():
                if new.endswith(".json"):  # written last, as the pipelines do: its presence means the set is whole
                    write_json_atomic(results_dir / new,
                                      _cached_json(hit.results_dir / old, names, filename=Path(audio_path).name))
        except OSError:
            take_back(written)
            raise
        remove_stale_siblings(results_dir, set(renamed.values()))  # as the run it copies would
        drop_earlier(written)
    return result


def _cached_json(source: Path, renamed: Mapping[str, str], *, filename: str) -> Any:
    """A result JSON file's own content for the new upload: names retargeted, marked cached where it is an object."""
    content = _retarget(json.loads(source.read_text()), renamed, filename=filename)
    if isinstance(content, dict):
        content["cached"] = True
    return content


def _cached_text(source: Path, names: Mapping[str, str]) -> str:
    """A text report for the new upload: the upload's name and the result files' names are the new ones."""
    text = source.read_text(encoding="utf-8")
    for old, new in names.items():
        if old != new:  # whole names only: "a.wav" is not renamed inside "data.wav"
            text = re.sub(rf"(?<![\w-]){re.escape(old)}(?![\w-])", new.replace("\\", "\\\\"), text)
    return text


def rename(name: str, old_stem: str, new_stem: str) -> str:
    """`features_song.png` for stem song -> `features_take2.png` for stem take2."""
    return name.replace(f"_{old_stem}.", f"_{new_stem}.", 1) if old_stem != new_stem else name


def _retarget(value: Any, renamed: Mapping[str, str], *, filename: str) -> Any:
    if isinstance(value, dict):
        out = {k: _retarget(v, renamed, filename=filename) for k, v in value.items()}
        if "filename" in out:
            out["filename"] = filename
        return out
    if isinstance(value, list):
        return [_retarget(v, renamed, filename=filename) for v in value]
    if isinstance(value, str):
        return renamed.get(value, value)
    return value


def hits_for_all(cache: ResultCache, *, owner: str, job_type: str, options: JobOptions,
                 audio_paths: Sequence[Path], root: SessionRoot, results_dir: Path | None = None) -> list[Hit] | None:
    """A hit for every file, or None (a partial hit runs the job: one code path for a batch's results).
    `results_dir`: the requesting session's (what a job of READS_SESSION would read there)."""
    hits = []
    for path in audio_paths:
        hit = cache.find(owner=owner, job_type=job_type, options=options, audio_path=path, root=root,
                         results_dir=results_dir)
        if hit is None:
            return None
        hits.append(hit)
    return hits
