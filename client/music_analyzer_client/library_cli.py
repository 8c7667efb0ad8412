"""`music-analyzer library tracks|search|similar|ask|reindex`: the user's library from the command line."""

from __future__ import annotations

import argparse
import itertools
import math
import re
import shlex
from typing import Any

from .client import MusicAnalyzer
from .errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, MusicAnalyzerError, UsageError
from .kept import kept_result, stopped_note, with_error
from .library import SEARCH_MODES
from .ui import Output
from .watching import CommandFollow, ask_cancel
from .webhooks import add_webhook_flags, webhook_args

TEXT_CHARS = 60  # of a line or passage in a table
TRACK_ID_RE = re.compile(r"[0-9a-f]{24}")  # the server's track ids


def add_parser(p: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="library_command", metavar="ACTION", required=True)
    # `list` too: the command's own help says "your analysed tracks: list, search, ...", and `token list` is one
    # (a stranger's `library list` was "invalid choice")
    tracks = sub.add_parser("tracks", aliases=["list"], parents=[common],
                            help="analysed tracks and what was measured, filtered")
    tracks.add_argument("--session", metavar="NAME")
    tracks.add_argument("--key", metavar="KEY", help="'A minor', 'F#m', 'Eb major' or a Camelot code like 8A")
    tracks.add_argument("--key-relation", choices=["exact", "relative", "compatible"],
                        help="with --key: also its relative key, or every key a DJ mixes into (default exact)")
    tracks.add_argument("--tempo-min", type=float, metavar="BPM")
    tracks.add_argument("--tempo-max", type=float, metavar="BPM")
    tracks.add_argument("--exact-tempo", action="store_true", help="no half- or double-time matches")
    tracks.add_argument("--metre", metavar="N/D", help="4/4, 3/4, 6/8, ...")
    vocals = tracks.add_mutually_exclusive_group()
    vocals.add_argument("--vocals", dest="has_vocals", action="store_const", const=True,
                        help="only tracks whose transcript (Whisper, lyrics) holds words")
    vocals.add_argument("--instrumental", dest="has_vocals", action="store_const", const=False,
                        help="only tracks transcribed and found without words (a track never transcribed is neither)")
    tracks.add_argument("--content", choices=["speech", "music", "silence"],
                        help="only tracks the music analysis (pitch) measured as speech, music or silence")
    tracks.add_argument("--limit", type=positive, default=50, metavar="N", help="how many (default 50)")
    tracks.add_argument("--all", action="store_true", help="every matching track, page after page")

    search = sub.add_parser("search", parents=[common], help="find lines of lyrics and passages by words or meaning")
    search.add_argument("query", metavar="TEXT")
    search.add_argument("--mode", choices=SEARCH_MODES, default="hybrid",
                        help="lyrics: words; semantic: meaning; hybrid: both (default)")
    search.add_argument("--content", choices=["speech", "music", "silence"],
                        help="only hits in tracks the music analysis (pitch) measured as speech, music or silence")
    search.add_argument("--limit", type=positive, default=10, metavar="N", help="how many (default 10, at most 50)")

    similar = sub.add_parser("similar", parents=[common], help="the tracks nearest to one (by its measurements)")
    similar.add_argument("track_id", metavar="TRACK", help="a track's id (`library tracks`' first column) or file name")
    similar.add_argument("--session", metavar="NAME", help="the session of a TRACK given by file name")
    similar.add_argument("--mix", action="store_true", help="only tracks a DJ could mix into it (key and tempo)")
    similar.add_argument("--limit", type=positive, default=10, metavar="N")

    ask = sub.add_parser("ask", parents=[common], help="a question answered from your library, with citations")
    ask.add_argument("question", metavar="QUESTION")
    ask.add_argument("--model", metavar="MODEL", help="the LLM (default: the loaded one, or the server's default)")
    ask.add_argument("--candidates", type=int, metavar="N", help="excerpts shown to the model (1-10, default 5)")
    ask.add_argument("--max-new-tokens", type=int, metavar="N", help="length of the answer at most")
    add_webhook_flags(ask)

    add_webhook_flags(sub.add_parser("reindex", parents=[common], help="rebuild your library from the session files"))


def positive(text: str) -> int:
    """A count of at least 1 (--limit -1 had failed with a ValueError from islice, --limit 0 listed nothing)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return value


def run(client: MusicAnalyzer, args: argparse.Namespace, out: Output) -> int:
    command = "tracks" if args.library_command == "list" else args.library_command
    if command in ("ask", "reindex"):
        return _job(client, args, out)
    if command == "tracks":
        filters = {"session_id": args.session, "key": args.key, "key_relation": args.key_relation,
                   "tempo_min": args.tempo_min, "tempo_max": args.tempo_max, "metre": args.metre,
                   "has_vocals": args.has_vocals, "tempo_multiples": False if args.exact_tempo else None,
                   "content": args.content}
        found = list(client.library.tracks(**filters) if args.all
                     else itertools.islice(client.library.tracks(page_size=min(args.limit + 1, 200), **filters),
                                           args.limit + 1))
        more = not args.all and len(found) > args.limit  # one past the limit: said, not left to be guessed
        found = found[:args.limit] if more else found
        _show(out, found, "no tracks match", ["track", "session", "file", "key", "BPM", "metre", "length", "vocals"],
              _track_row)
        if more:  # (a stranger's 50 of 60 tracks had read as the whole library)
            shown = f"the first {args.limit} track{'s' if args.limit != 1 else ''}"
            out.note(f"{shown}: more match (--all lists every one, --limit N more of them)")
    elif command == "search":
        page = client.library.search_page(args.query, mode=args.mode, limit=args.limit, content=args.content)
        empty = ""
        if not page["results"] and not out.json:  # filtered: the words may be in tracks of the other content
            empty = (f"nothing found in the tracks measured as {args.content} (without --content every track is "
                     "searched)" if args.content else _nothing_found(client, page))
        _show(out, page["results"], empty, ["score", "file", "session", "at", "text"], _hit_row)
    else:
        near = client.library.similar(_track_id(client, args.track_id, args.session), limit=args.limit, mix=args.mix)
        if not out.json:
            seed = near.get("track") or {}
            facts = [_key(seed), f"{_bpm(seed.get('tempo_bpm'))} BPM" if seed.get("tempo_bpm") else ""]
            measured = ", ".join(f for f in facts if f)
            out.note(f"nearest to {seed.get('filename')}{f' ({measured})' if measured else ''}:")
        found = near.get("similar", [])
        _show(out, found, "no similar tracks", ["track", "file", "session", "distance", "compared", "key", "tempo"],
              _neighbour_row, whole=near)
        if not out.json and any(_share(n) < 1 for n in found):  # the distances had read as out of order, unsaid
            out.note("a track compared on less than all the seed measured (compared under 100%: no features result, "
                     "or no key and tempo) is listed after every track compared on all of it, whatever its distance")
    return EXIT_OK


def _track_id(client: MusicAnalyzer, track: str, session: str | None) -> str:
    """TRACK as an id, or the one track of that file name (in `session`): a stranger's `library similar
    Motorway.ogg` had been told "no track 'Motorway.ogg' in your library" beside a listing that held it."""
    if (TRACK_ID_RE.fullmatch(track) or not track.strip()) and session is None:  # (none: the client refuses it)
        return track
    listed = list(client.library.tracks(page_size=200, session_id=session))
    named = [t for t in listed if track in (t["filename"], t["track_id"])] \
        or [t for t in listed if t["filename"].casefold() == track.casefold()]
    where = f" in session {session}" if session else ""
    if not named:
        raise UsageError(f"no track named {track!r} in your library{where}: TRACK is a file name or a track id "
                         "(the first column of `library tracks`)", code="track_not_found")
    if len(named) > 1:
        held = ", ".join(f"{t['track_id']} ({t['session_id']})" for t in named[:10])
        raise UsageError(f"{len(named)} tracks are named {track!r}{where}: {held}; give its id, or --session NAME",
                         code="ambiguous_track")
    return str(named[0]["track_id"])


def _job(client: MusicAnalyzer, args: argparse.Namespace, out: Output) -> int:
    follow = CommandFollow(out, args.library_command)
    hook = webhook_args(args)
    code = EXIT_OK
    try:
        if args.library_command == "reindex":
            result = follow.run(lambda queued, heard: client.library.reindex(on_queued=queued, on_event=heard,
                                                                             **hook))
        else:
            options = {k: v for k, v in (("model_type", args.model), ("candidates", args.candidates),
                                         ("max_new_tokens", args.max_new_tokens)) if v is not None}
            result = follow.run(lambda queued, heard: client.library.ask(args.question, on_queued=queued,
                                                                         on_event=heard, **hook, **options))
    except KeyboardInterrupt:
        ask_cancel(client, follow.queued, out)
        return EXIT_INTERRUPTED
    except MusicAnalyzerError as e:  # an answer canceled or time-limited midway: shown as far as it got, exit 1
        if args.library_command != "ask" or (partial := kept_result(e, "answer")) is None:
            raise
        out.warn(stopped_note(args.library_command, e))
        result, code = with_error(partial, e), EXIT_FAILED
    if out.json:
        out.emit(result)
    elif args.library_command == "reindex":
        out.out.print(f"{result.get('tracks_indexed', 0)} track(s) indexed, {result.get('tracks_removed', 0)} "
                      "removed")
        for miss in result.get("errors") or []:
            out.warn(f"not indexed: {miss.get('session_id')}/{miss.get('filename')} ({miss.get('error')})")
    else:
        _print_answer(result, out)
    return code


def _print_answer(result: dict[str, Any], out: Output) -> None:
    out.out.print(str(result.get("answer", "")))
    for c in result.get("citations") or []:
        where = f" at {_clock(c.get('start_seconds'))}" if c.get("start_seconds") is not None else ""
        text = f': "{_cut(c["text"])}"' if c.get("text") else _measured(c.get("measured") or {})
        out.out.print(f"  [{c.get('n')}] {c.get('filename')} (session {c.get('session_id')}){where}{text}")
    if result.get("cited_by") == "retrieval":
        out.note("the model cited no excerpt: the citations are retrieval's")
    for w in result.get("warnings") or []:
        out.warn(w)
    if result.get("model"):
        out.note(f"{result['model']}: {result.get('generation_seconds')} s")


def _show(out: Output, rows: list[dict[str, Any]], empty: str, columns: list[str], row: Any,
          whole: Any = None) -> None:
    if out.json:
        out.emit(rows if whole is None else whole)
    elif not rows:
        out.note(empty)
    else:
        out.table(columns, [row(r) for r in rows])


def _nothing_found(client: MusicAnalyzer, page: dict[str, Any]) -> str:
    """What an empty search searched: a library of instrumental tracks has no words to find anything in; and the
    `library list` that filters on key, tempo and metre, with the ones the search text names, else with those of a
    track the library holds (it had said `--key 'A minor' --tempo-min 100 --tempo-max 120 --metre 4/4` whatever
    was asked: a stranger's "D major 96 bpm" was shown A minor at 100-120)."""
    tracks, worded = page.get("tracks"), page.get("tracks_with_text")
    if tracks is None or worded is None:  # an older server
        return "nothing found"
    where = "none has any" if worded == 0 else f"{worded} {'has' if worded == 1 else 'have'} any"
    said = (f"nothing found: search reads the words of your tracks (transcripts, lyrics, LLM analyses), and of your "
            f"{tracks} track{'' if tracks == 1 else 's'} {where}")
    example = _named_listing(page.get("measured_filter")) or (_held_listing(client) if tracks else None) \
        or "`library list --key KEY --tempo-min BPM --tempo-max BPM --metre N/D`"
    return f"{said}; for key, tempo and metre use {example}"


def _named_listing(facts: Any) -> str | None:
    """`library list ...` with the key, tempo range and metre the search text names (the server's reading of it,
    `measured_filter`), or None where it names none. A key as its Camelot code, which `--key` always takes (the
    text's "B flat minor" it does not), named after it; one of several keys the text names."""
    if not isinstance(facts, dict):
        return None
    codes = [str(c) for c in facts.get("camelot") or []]
    flags = [f"--key {codes[0]}"] if codes else []
    flags += [f"--tempo-{end} {facts[f'tempo_{end}']:g}" for end in ("min", "max")
              if isinstance(facts.get(f"tempo_{end}"), int | float)]
    flags += [f"--metre {facts['metre']}"] if facts.get("metre") else []
    if not flags:
        return None
    named = f" ({codes[0]}: {facts['key']})" if len(codes) == 1 and facts.get("key") else \
        f" ({facts.get('key')}: {', '.join(codes)}, one --key at a time)" if len(codes) > 1 else ""
    return f"`library list {' '.join(flags)}`{named}"


def _held_listing(client: MusicAnalyzer) -> str | None:
    """`library list ...` with the key, a tempo range and the metre of a track of the library (the first of its
    first page measured with a key and a tempo), which that listing shows; None where none was measured so."""
    tracks, _ = client.library.tracks_page(limit=50)
    track = next((t for t in tracks if (t.get("key") or {}).get("label")
                  and isinstance(t.get("tempo_bpm"), int | float)), None)
    if track is None:
        return None
    bpm = float(track["tempo_bpm"])
    low, high = 5 * math.floor((bpm - 2) / 5), 5 * math.ceil((bpm + 2) / 5)  # 120.3: 115-125
    metre = f" --metre {track['metre']}" if track.get("metre") else ""
    return (f"`library list --key {shlex.quote(track['key']['label'])} --tempo-min {low} --tempo-max {high}{metre}` "
            f"({track.get('filename')} is one)")


def _track_row(t: dict[str, Any]) -> list[str]:
    vocals = t.get("has_vocals")
    return [str(t.get("track_id")), str(t.get("session_id")), str(t.get("filename")), _key(t),
            _bpm(t.get("tempo_bpm")) + (f" ({t['tempo_match']})" if t.get("tempo_match") not in (None, "exact")
                                        else ""),
            str(t.get("metre") or ""), _length(t.get("duration_seconds")), "" if vocals is None else
            ("yes" if vocals else "no")]


def _hit_row(h: dict[str, Any]) -> list[str]:
    track, piece = h.get("track") or {}, h.get("line") or h.get("passage") or {}
    start = piece.get("start_seconds")
    return [f"{h.get('score', 0):.3f}", str(track.get("filename")), str(track.get("session_id")),
            _clock(start) if start is not None else "", _cut(str(piece.get("text") or ""))]


def _neighbour_row(n: dict[str, Any]) -> list[str]:
    track = n.get("track") or {}
    return [str(track.get("track_id")), str(track.get("filename")), str(track.get("session_id")),
            f"{n.get('distance', 0):.3f}", f"{_share(n):.0%}" if "compared_share" in n else "",
            f"{_key(track)} {n.get('key_relation') or ''}".strip(),
            f"{_bpm(track.get('tempo_bpm'))} {n.get('tempo_match') or ''}".strip()]


def _share(n: dict[str, Any]) -> float:
    """The share of the seed's descriptor weight a neighbour was compared on (1 from a server without it)."""
    share = n.get("compared_share")
    return float(share) if isinstance(share, int | float) else 1.0


def _measured(m: dict[str, Any]) -> str:
    """": C major, 120.0 BPM, 4/4": a citation of the measurements (one without a line of text)."""
    facts = [str(m.get("key") or ""), f"{_bpm(m.get('tempo_bpm'))} BPM" if m.get("tempo_bpm") else "",
             str(m.get("metre") or "")]
    return ": " + ", ".join(f for f in facts if f) if any(facts) else ""


def _key(track: dict[str, Any]) -> str:
    key = track.get("key") or {}
    return f"{key['label']} ({key['camelot']})" if key.get("label") else ""


def _bpm(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else ""


def _clock(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return ""
    s = max(0, int(seconds))
    return f"{s // 60}:{s % 60:02d}"


def _length(seconds: Any) -> str:
    """A track's length: m:ss, with tenths under a minute (a 0.9 s spoken word had read "0:00", as if empty)."""
    if isinstance(seconds, int | float) and 0 <= seconds < 60:
        return f"0:{math.floor(seconds * 10) / 10:04.1f}"
    return _clock(seconds)


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TEXT_CHARS else text[:TEXT_CHARS - 1] + "…"
