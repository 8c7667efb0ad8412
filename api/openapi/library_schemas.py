"""Response shapes of the library routes (/library): tracks, search results, similar tracks, answers."""

from __future__ import annotations

from .shapes import BOOL, INT, NUM, SPEECH_SHARE, STR, Schema, arr, content, null, obj, ref


def library_schemas() -> dict[str, Schema]:
    key = obj(["label", "camelot"], label=STR, mode=null(STR), camelot=null(STR), confidence=null(NUM))
    track = obj(["track_id", "session_id", "filename"], "A track as the library indexed it from its session's "
                "results (null: not measured).", track_id=STR, owner=STR, session_id=STR, filename=STR,
                duration_seconds=null(NUM), key=null(key), tempo_bpm=null(NUM), metre=null(STR),
                loudness_lufs=null(NUM), has_vocals=null(BOOL), chords_summary=null(STR), sources=arr(STR),
                indexed_at=STR, tempo_match=null({"enum": ["exact", "double", "half"]}),
                content=content("`GET /library/tracks?content=speech` lists the speech (an audiobook, a talk), "
                                "`content=silence` the silent files, `content=music` the rest; null: indexed "
                                "without a music analysis.", silence=True),
                speech_share=SPEECH_SHARE)
    line = obj(["text", "start_seconds"], line_no=INT, text=STR, start_seconds=null(NUM), end_seconds=null(NUM),
               match={"enum": ["phrase", "fuzzy"]}, score=NUM)
    passage = obj(["kind", "text"], kind=STR, source=STR, text=STR, start_seconds=null(NUM), end_seconds=null(NUM))
    hit = obj(["track_id", "score", "track"], track_id=STR, score=NUM, track=ref("Track"), line=null(line),
              lines=arr(line), passage=null(passage))
    measured = obj([], "What the analysis measured of the track (null: not measured).", key=null(STR),
                   tempo_bpm=null(NUM), metre=null(STR))
    citation = obj(["n", "track_id", "filename", "text"], n=INT, track_id=STR, session_id=STR, filename=STR,
                   kind=STR, text=STR, start_seconds=null(NUM), line_no=null(INT), measured=measured)
    facts = dict(key=null(STR), camelot=arr(STR), tempo_min=null(NUM), tempo_max=null(NUM), metre=null(STR),
                 ranked=null(STR), files=arr(STR))
    measured_filter = null(obj([], "The keys (as written, and their Camelot codes), tempo range and metre the "
                                   "question names (its candidates are the tracks measured so), the superlative "
                                   "it ranks by, and the files of the library it names with their extension "
                                   "(those tracks; asked only what was measured of them, answered with it), or null.",
                               **facts))
    neighbour = obj(["track", "distance", "compared_share"], track=ref("Track"), distance=NUM,
                    compared_share={"type": "number", "minimum": 0, "maximum": 1},
                    key_relation={"enum": ["same", "relative", "fifth"]},
                    tempo_match={"enum": ["exact", "double", "half"]}, tempo_change_percent=NUM)
    return {
        "Track": track,
        "TrackList": obj(["tracks", "next_cursor"], tracks=arr(ref("Track")), next_cursor=null(STR)),
        "SearchResults": obj(["query", "mode", "results", "next_cursor", "tracks", "tracks_with_text"], query=STR,
                             mode=STR, results=arr(hit), next_cursor=null(STR),
                             content=null({"enum": ["speech", "music", "silence"],
                                           "description": "The `content` filter the hits were kept by, or null: "
                                           "every hit."}),
                             tracks={**INT, "description": "The library's tracks of the owner searched: with "
                                     "`content`, those measured as that content alone."},
                             tracks_with_text={**INT, "description": "Those with words a search reads (a "
                                               "transcript, lyrics or an LLM analysis); key, tempo and metre "
                                               "are GET /library/tracks' filters."},
                             measured_filter=null(obj([], "The keys (as written, and their Camelot codes), tempo "
                                                      "range and metre the search text names, read as /library/ask "
                                                      "reads a question (GET /library/tracks filters on them; the "
                                                      "search does not), or null.", **facts))),
        "SimilarTracks": obj(["track", "similar"], track=ref("Track"), similar=arr(neighbour)),
        "LibraryAnswer": obj(["question", "answer", "citations", "candidates"],
                             "`cited_by`: model (it cited excerpts), retrieval (it cited none: the top one) or "
                             "measurements (the measured tracks the question asked for, listed without a model). "
                             "`warnings`: citations of excerpts not given, keys, tempi and files the excerpts do not "
                             "support, times no excerpt holds, an answer stuck in a loop or cut at max_new_tokens. "
                             "`measured_filter`: the measured facts the "
                             "question names.",
                             question=STR, answer=STR, model=null(STR), finish_reason=null({**STR, "description": (
                                 "stop, length (cut at max_new_tokens), canceled (the answer so far, the job "
                                 "canceled) or time_limit (the answer so far, the job failed "
                                 "`time_limit_exceeded`: its `result`, and the route's 500 answer beside `error`)")}),
                             partial={**BOOL, "description": "A stopped answer's result (`finish_reason` canceled "
                                      "or time_limit): the text written before the stop. Absent from finished "
                                      "ones."},
                             generation_seconds=null(NUM), citations=arr(citation), candidates=arr(citation),
                             cited_by=null({"enum": ["model", "retrieval", "measurements"]}),
                             model_choice=ref("ModelChoice"), warnings=arr(STR), measured_filter=measured_filter),
        "ReindexResult": obj(["tracks_indexed", "tracks_removed"], owner=STR, tracks_indexed=INT,
                             tracks_removed=INT, errors=arr({"type": "object"})),
    }
