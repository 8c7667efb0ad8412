"""`ma.library`: the user's library over HTTP (/library): every analysed track with what was measured of it,
lyrics and semantic search, similar tracks, questions answered by the LLM with citations, the rebuild.

    for track in ma.library.tracks(key="A minor", key_relation="compatible", tempo_min=118, tempo_max=124):
        print(track["filename"], track["tempo_bpm"])
    answer = ma.library.ask("Which song mentions a river?")
    print(answer["answer"], [c["filename"] for c in answer["citations"]])
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote

from .errors import UsageError
from .records import JobEvent
from .webhooks import webhook_keys

if TYPE_CHECKING:
    from .client import MusicAnalyzer

TRACK_FILTERS = ("session_id", "key", "key_relation", "tempo_min", "tempo_max", "tempo_multiples", "metre",
                 "duration_min", "duration_max", "loudness_min", "loudness_max", "has_vocals", "content")
SEARCH_MODES = ("hybrid", "lyrics", "semantic")
MAX_QUERY_CHARS = 500  # of a search (the server's MAX_QUERY_CHARS)


class LibraryAPI:
    def __init__(self, client: MusicAnalyzer) -> None:
        self.client = client

    def tracks_page(self, *, limit: int = 50, cursor: str | None = None,
                    **filters: Any) -> tuple[list[dict[str, Any]], str | None]:
        """One page of GET /library/tracks (ordered by session and file) and the next page's cursor (None on the
        last). Filters: TRACK_FILTERS (a key like "A minor", "F#m" or "8A"; booleans as true/false)."""
        _check_filters(filters)
        params: dict[str, Any] = {"limit": limit}
        for name, value in filters.items():
            if value is not None:
                params[name] = str(value).lower() if isinstance(value, bool) else value
        if cursor:
            params["cursor"] = cursor
        page = self.client._json("GET", "/library/tracks", params=params, retry=True)
        return page["tracks"], page.get("next_cursor")

    def tracks(self, *, page_size: int = 50, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every track matching the filters, page after page (an unknown filter raises here, not once iterated)."""
        _check_filters(filters)

        def pages() -> Iterator[dict[str, Any]]:
            cursor: str | None = None
            while True:
                tracks, cursor = self.tracks_page(limit=page_size, cursor=cursor, **filters)
                yield from tracks
                if not cursor:
                    return

        return pages()

    def track(self, track_id: str) -> dict[str, Any]:
        return cast(dict[str, Any], self.client._json("GET", f"/library/tracks/{_segment(track_id)}", retry=True))

    def similar(self, track_id: str, *, limit: int = 10, mix: bool = False) -> dict[str, Any]:
        """{"track", "similar": [{"track", "distance", ...}]}; `mix`: only tracks a DJ could mix into it."""
        params = {"limit": limit, **({"mix": "true"} if mix else {})}
        return cast(dict[str, Any], self.client._json("GET", f"/library/tracks/{_segment(track_id)}/similar",
                                                      params=params, retry=True))

    def search(self, query: str, *, mode: str = "hybrid", limit: int = 10,
               content: str | None = None) -> list[dict[str, Any]]:
        """The best `limit` hits (at most 50), each with its track and the matching line or passage; `content`
        "speech" or "music": only hits in tracks the music analysis measured so."""
        return cast(list[dict[str, Any]], self.search_page(query, mode=mode, limit=limit, content=content)["results"])

    def search_page(self, query: str, *, mode: str = "hybrid", limit: int = 10,
                    content: str | None = None) -> dict[str, Any]:
        """search's whole answer: {"results", "tracks", "tracks_with_text", ...}: how many of your tracks have words
        a search reads (transcripts, lyrics, LLM analyses), which says why nothing was found."""
        if len(query) > MAX_QUERY_CHARS:  # the server's limit: a long one had met the front's 414 (URI too long)
            raise UsageError(f"the search text is {len(query)} characters; at most {MAX_QUERY_CHARS} are searched",
                             code="invalid_query")
        params: dict[str, Any] = {"q": query, "mode": mode, "limit": limit}
        if content is not None:  # an older server refuses a parameter it does not read (400 invalid_filter)
            params["content"] = content
        return cast(dict[str, Any], self.client._json("GET", "/library/search", params=params, retry=True))

    def ask(self, question: str, *, wait: float = 60.0, on_queued: Callable[[str], None] | None = None,
            on_event: Callable[[JobEvent], None] | None = None, webhook: str | None = None,
            webhook_events: Sequence[str] | None = None, **options: Any) -> dict[str, Any]:
        """The LLM's answer from the library: {"answer", "citations", "candidates", "cited_by", "warnings",
        "measured_filter", ...}. Options: candidates, max_new_tokens, model_type. A GPU job, followed as
        MusicAnalyzer.generate follows its job, and stopped midway raises as it does, the answer so far (partial, its
        citations and warnings) in `details["result"]`. `webhook`, `webhook_events`: as MusicAnalyzer.start_job's."""
        return self.client.command("/library/ask", {"question": question, **options,
                                                    **webhook_keys(webhook, webhook_events)},
                                   wait, on_queued, on_event)

    def reindex(self, *, on_queued: Callable[[str], None] | None = None,
                on_event: Callable[[JobEvent], None] | None = None, webhook: str | None = None,
                webhook_events: Sequence[str] | None = None) -> dict[str, Any]:
        """Rebuild the library from the session files: {"tracks_indexed", "tracks_removed", "errors"}."""
        # wait 0: the route's 200 within a wait is the job's record, not its result; the job is followed instead
        return self.client.command("/library/reindex", webhook_keys(webhook, webhook_events), 0.0, on_queued,
                                   on_event)


def _check_filters(filters: dict[str, Any]) -> None:
    unknown = sorted(set(filters) - set(TRACK_FILTERS))
    if unknown:
        raise TypeError(f"unknown track filter(s): {', '.join(unknown)} (known: {', '.join(TRACK_FILTERS)})")
    # the server refuses these alone (400 invalid_filter): said here, no request sent
    for name, partners in (("key_relation", ("key",)), ("tempo_multiples", ("tempo_min", "tempo_max"))):
        if filters.get(name) is not None and all(filters.get(p) is None for p in partners):
            flags = {"key_relation": "key_relation (--key-relation)", "tempo_multiples": "tempo_multiples "
                     "(--exact-tempo)", "key": "key (--key)", "tempo_min": "tempo_min (--tempo-min)",
                     "tempo_max": "tempo_max (--tempo-max)"}
            raise UsageError(f"{flags[name]} needs {' or '.join(flags[p] for p in partners)}", code="invalid_filter")


def _segment(value: str) -> str:
    """A track id as one path segment (as client.py's: its module imports this one); an empty one is refused here:
    it had reached the server as /library/tracks//similar, "no track 'similar' in your library"."""
    if not str(value).strip():
        raise UsageError("a track id is needed (`music-analyzer library tracks` lists them)", code="invalid_track_id")
    return quote(str(value), safe="")
