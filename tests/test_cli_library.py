"""`music-analyzer library ...` as a real subprocess against the live test service, and `MusicAnalyzer.library`
in a script: tracks filtered by what was measured, similar tracks, a question, the rebuild."""

from __future__ import annotations

import json
import re
import shlex

import pytest
from music_analyzer_client import MusicAnalyzer

from tests.conftest import PASSWORD, USER
from tests.library_results import measured_songs, spoken_track
from tests.test_cli import cli_env, ma


@pytest.fixture()
def two_songs(client, tmp_path) -> str:
    return measured_songs(client, tmp_path)


def test_tracks_similar_and_a_question_from_the_command_line(server, client, two_songs, tmp_path):
    env = cli_env(server, tmp_path)
    sid = two_songs
    listed = ma(env, "--json", "library", "tracks", "--session", sid, "--key", "C major")
    assert listed.returncode == 0, listed.stderr
    (track,) = json.loads(listed.stdout)
    assert track["filename"] == "in-c.wav" and track["key"]["camelot"] == "8B"
    # the table a person reads: the file, its key with the Camelot code, its tempo
    table = ma(env, "library", "tracks", "--session", sid, "--tempo-min", "118", "--tempo-max", "122",
               "--exact-tempo")
    assert table.returncode == 0 and "in-a.wav" in table.stdout and "in-c.wav" in table.stdout
    assert "C major (8B)" in table.stdout and "A major (11B)" in table.stdout and "120" in table.stdout
    assert "no tracks match" in ma(env, "library", "tracks", "--session", sid, "--key", "8A").stderr
    # what pitch measured them as: music, none of them speech (an audiobook had been listed among the songs)
    music = json.loads(ma(env, "--json", "library", "tracks", "--session", sid, "--content", "music").stdout)
    assert {(t["filename"], t["content"]) for t in music} == {("in-c.wav", "music"), ("in-a.wav", "music")}
    assert "no tracks match" in ma(env, "library", "tracks", "--session", sid, "--content", "speech").stderr
    # nor silence (a silent file is listed as such, not as music: tests/test_api_library.py), which the CLI takes
    assert "no tracks match" in ma(env, "library", "tracks", "--session", sid, "--content", "silence").stderr
    # a listing cut at --limit says so (the first 50 of a stranger's 60 tracks had read as the whole library)
    cut = ma(env, "library", "tracks", "--session", sid, "--limit", "1")
    assert cut.returncode == 0 and cut.stdout.count(".wav") == 1, cut.stdout
    assert "the first 1 track: more match (--all lists every one" in cut.stderr, cut.stderr
    whole = ma(env, "library", "tracks", "--session", sid, "--limit", "2")
    assert whole.stdout.count(".wav") == 2 and "more match" not in whole.stderr
    assert len(json.loads(ma(env, "--json", "library", "tracks", "--session", sid, "--limit", "1").stdout)) == 1
    # `library list`, as the command's help names it (it was "invalid choice: 'list'")
    assert json.loads(ma(env, "--json", "library", "list", "--session", sid, "--key", "C major").stdout) == [track]
    near = ma(env, "--json", "library", "similar", track["track_id"], "--limit", "50")
    assert near.returncode == 0 and near.stdout.count('"track_id"') >= 2
    assert any(n["track"]["filename"] == "in-a.wav" for n in json.loads(near.stdout)["similar"])
    # TRACK by its file name, as `library tracks` shows it (a stranger's `library similar Motorway.ogg` had been
    # told "no track 'Motorway.ogg' in your library"); several of that name: which, and --session
    named = ma(env, "--json", "library", "similar", "IN-C.wav", "--session", sid, "--limit", "50")
    assert named.returncode == 0, named.stderr
    assert json.loads(named.stdout)["track"]["track_id"] == track["track_id"]
    (tmp_path / "again").mkdir()
    measured_songs(client, tmp_path / "again")  # another session holding an in-c.wav
    several = ma(env, "library", "similar", "in-c.wav")
    assert several.returncode == 2 and "tracks are named 'in-c.wav'" in several.stderr, several.stderr
    assert f"{track['track_id']} ({sid})" in several.stderr and "--session NAME" in several.stderr
    missing = ma(env, "library", "similar", "nowhere.wav", "--session", sid)
    assert missing.returncode == 2 and f"no track named 'nowhere.wav' in your library in session {sid}" \
        in missing.stderr, missing.stderr
    # a question that names a measured fact no track has, or asks for the tracks that have it: answered by the
    # server at once (no job to follow), the list with a citation per track
    asked = ma(env, "library", "ask", "Which tracks are in C major, in 5/4?")
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.strip() == "No track in your library was measured in C major, in 5/4."
    assert "queued" not in asked.stderr
    listed = ma(env, "library", "ask", "which tracks are in c major?")
    assert listed.returncode == 0 and " measured in c major: " in listed.stdout.splitlines()[0], listed.stdout
    assert f"in-c.wav (session {sid})" in listed.stdout and "in-a.wav" not in listed.stdout
    # a citation line, with what was measured
    assert re.search(rf"\[\d+\] in-c\.wav \(session {sid}\): C major, 1(19|20)\.\d BPM", listed.stdout), listed.stdout
    # the server's refusals are one line with its code, exit 2; argparse's own, exit 2
    bad = ma(env, "library", "tracks", "--key", "H minor")
    assert bad.returncode == 2 and "invalid_filter" in bad.stderr
    assert ma(env, "library", "search", "x", "--mode", "psychic").returncode == 2
    # a stranger's --limit -1 had ended in "unexpected ValueError", an 18 kB search in the front's 414
    for args in (("tracks", "--limit", "-1"), ("tracks", "--limit", "0"), ("search", "x", "--limit", "zero")):
        refused = ma(env, "library", *args)
        assert refused.returncode == 2 and "is not a whole number of 1 or more" in refused.stderr, args
    empty = ma(env, "library", "similar", "")
    assert empty.returncode == 2 and "a track id is needed" in empty.stderr
    long = ma(env, "library", "search", "river " * 3000)
    assert long.returncode == 2 and "at most 500 are searched" in long.stderr and "414" not in long.stderr


def test_the_library_in_a_script(server, celery_worker, two_songs):
    ma_ = MusicAnalyzer(server, USER, PASSWORD)
    pages = list(ma_.library.tracks(session_id=two_songs, page_size=1))  # one track a page: the cursor is followed
    assert sorted(t["filename"] for t in pages) == ["in-a.wav", "in-c.wav"]
    a_major = list(ma_.library.tracks(session_id=two_songs, key="F#m", key_relation="relative"))
    assert [t["filename"] for t in a_major] == ["in-a.wav"]  # F# minor is A major's relative
    assert ma_.library.track(a_major[0]["track_id"])["key"]["label"] == "A major"
    with pytest.raises(TypeError, match="bpm_min"):  # at the call, not once iterated
        ma_.library.tracks(bpm_min=100)
    rebuilt = ma_.library.reindex()
    assert rebuilt["tracks_indexed"] >= 2 and rebuilt["errors"] == []
    assert {t["filename"] for t in ma_.library.tracks(session_id=two_songs)} == {"in-a.wav", "in-c.wav"}


def test_a_qualifier_without_its_filter_is_refused_before_sending(server, tmp_path):
    """--key-relation without --key, --exact-tempo without a tempo range: the server's 400 said here, exit 2."""
    env = cli_env(server, tmp_path)
    for args, needs in ((("--key-relation", "compatible"), "needs key (--key)"),
                        (("--exact-tempo",), "needs tempo_min (--tempo-min) or tempo_max (--tempo-max)")):
        refused = ma(env, "library", "tracks", *args)
        assert refused.returncode == 2 and needs in refused.stderr, refused.stderr
    from music_analyzer_client.errors import UsageError

    with pytest.raises(UsageError, match="key_relation .* needs key") as refused_here:
        MusicAnalyzer(server, USER, PASSWORD).library.tracks(key_relation="relative")
    assert refused_here.value.code == "invalid_filter"


@pytest.mark.needs_espeak
def test_a_search_keeps_to_speech_or_to_music(server, client, tmp_path):
    """`library search --content speech|music` (and the client's `content=`): a search could not be kept to what
    the music analysis measured, as `library tracks --content` can; a real spoken track, transcribed and measured."""
    sid = spoken_track(client, tmp_path)
    env = cli_env(server, tmp_path)
    words = ("library", "search", "the fishing boats came home", "--mode", "lyrics", "--limit", "50")
    spoken = ma(env, "--json", *words, "--content", "speech")
    assert spoken.returncode == 0, spoken.stderr
    hits = [h for h in json.loads(spoken.stdout) if h["track"]["session_id"] == sid]
    assert [(h["track"]["filename"], h["track"]["content"]) for h in hits] == [("talk.wav", "speech")]
    assert all(h["track"]["content"] == "speech" for h in json.loads(spoken.stdout))
    music = ma(env, *words, "--content", "music")
    assert music.returncode == 0 and sid not in music.stdout, music.stdout
    assert ma(env, "library", "search", "zzqxv", "--content", "music").stderr.strip() \
        == "nothing found in the tracks measured as music (without --content every track is searched)"
    assert ma(env, "library", "search", "x", "--content", "talk").returncode == 2  # argparse's choices
    ma_ = MusicAnalyzer(server, USER, PASSWORD)
    assert sid in {h["track"]["session_id"] for h in ma_.library.search("the fishing boats came home", mode="lyrics",
                                                                        limit=50, content="speech")}
    assert ma_.library.search_page("fishing boats", mode="lyrics", content="music")["content"] == "music"


def test_an_empty_search_says_what_it_searched(server, client, two_songs, tmp_path):
    """A stranger's library of instrumental game tracks answered `library search "C minor"` with "nothing found":
    search reads words (transcripts, lyrics, LLM analyses), which none of those tracks had, and key and tempo are
    `library list`'s filters; the answer now says so, with the server's counts."""
    page = client.get("/library/search", params={"q": "zzqxv", "mode": "lyrics"}).json()
    assert page["results"] == [] and page["tracks"] >= 2 and 0 <= page["tracks_with_text"] <= page["tracks"], page
    said = ma(cli_env(server, tmp_path), "library", "search", "zzqxv", "--mode", "lyrics")
    assert said.returncode == 0, said.stderr
    worded = "none has any" if page["tracks_with_text"] == 0 else f"{page['tracks_with_text']} ha"
    assert f"search reads the words of your tracks (transcripts, lyrics, LLM analyses), and of your " \
           f"{page['tracks']} tracks {worded}" in " ".join(said.stderr.split()), said.stderr
    assert "library list --key" in " ".join(said.stderr.split())


def test_an_empty_search_shows_a_listing_of_what_was_asked_or_of_what_the_library_holds(server, client, two_songs,
                                                                                         tmp_path):
    """The hint of an empty search had said `library list --key 'A minor' --tempo-min 100 --tempo-max 120 --metre
    4/4` whatever was asked: a search naming a key, a tempo or a metre is shown the listing of those (the server's
    reading of the text, `measured_filter`), and one naming none the listing of a track the library holds, which
    that listing shows."""
    env = {**cli_env(server, tmp_path), "COLUMNS": "400"}
    text = "zzqxv in D major at 96 bpm in 3/4"
    page = client.get("/library/search", params={"q": text, "mode": "lyrics"}).json()
    assert page["results"] == [] and page["measured_filter"]["camelot"] == ["10B"], page
    named = ma(env, "library", "search", text, "--mode", "lyrics")
    assert named.returncode == 0, named.stderr
    assert "use `library list --key 10B --tempo-min 93.1 --tempo-max 98.9 --metre 3/4` (10B: D major)" \
        in " ".join(named.stderr.split()), named.stderr
    assert "A minor" not in named.stderr
    assert client.get("/library/search", params={"q": "zzqxv", "mode": "lyrics"}).json()["measured_filter"] is None
    held = ma(env, "library", "search", "zzqxv", "--mode", "lyrics")
    said = " ".join(held.stderr.split())
    assert held.returncode == 0 and "for key, tempo and metre use `library list --key" in said, held.stderr
    command, track = re.search(r"`library list (.+?)` \((\S+) is one\)", said).groups()
    listed = ma(env, "--json", "library", "list", *shlex.split(command), "--all")
    assert listed.returncode == 0, listed.stderr
    assert track in {t["filename"] for t in json.loads(listed.stdout)}, (command, listed.stdout)


def test_similar_says_what_each_track_was_compared_on(server, client, tmp_path):
    """A stranger's `library similar` listed distances 0.719, 1.655, ..., 1.934, then 1.646, 1.647: the tracks that
    lacked a features result came after, as the server ranks them (their `compared_share` 0.15), and the table
    neither showed that share nor said why it was out of order."""
    from tests.test_api_sessions import upload
    from tests.test_cli import song

    sid = client.post("/sessions").json()["session_id"]
    song(tmp_path / "seed.wav", tonic=2, bars=4)
    song(tmp_path / "pitch-only.wav", tonic=7, bars=4)
    assert upload(client, sid, tmp_path / "seed.wav", tmp_path / "pitch-only.wav").status_code == 201
    for kind, body in (("features", {"file": "seed.wav"}), ("pitch", {})):
        job = client.post(f"/process/{kind}/{sid}", json=body).json()
        assert client.wait_job(job["job_id"], timeout=300)["state"] == "succeeded"
    tracks = client.get("/library/tracks", params={"session_id": sid}).json()["tracks"]
    seed = next(t["track_id"] for t in tracks if t["filename"] == "seed.wav")
    env = {**cli_env(server, tmp_path), "COLUMNS": "200"}
    near = ma(env, "library", "similar", seed, "--limit", "50")
    assert near.returncode == 0, near.stderr
    header = next(line for line in near.stdout.splitlines() if "distance" in line)
    assert "compared" in header, near.stdout
    row = next(line for line in near.stdout.splitlines() if "pitch-only.wav" in line and sid in line)
    assert re.search(r"\b15%", row), row
    assert "is listed after every track compared on all of it, whatever its distance" in near.stderr, near.stderr


def test_a_short_clip_is_listed_with_its_length_not_as_0_00(server, client, tmp_path):
    """A stranger's one-word clips (KTuberling's spoken words, 0.8-1.5 s) were listed by `library list` with the
    length "0:00" (or "0:01"), as if empty; under a minute the length keeps its tenths."""
    import numpy as np
    import soundfile as sf

    from tests.test_api_sessions import upload

    sid = client.post("/sessions").json()["session_id"]
    t = np.arange(int(0.9 * 22050)) / 22050
    sf.write(tmp_path / "word.wav", (0.3 * np.sin(2 * np.pi * (180 + 60 * t) * t)).astype(np.float32), 22050)
    assert upload(client, sid, tmp_path / "word.wav").status_code == 201
    job = client.post(f"/process/features/{sid}", json={"file": "word.wav"}).json()
    assert client.wait_job(job["job_id"], timeout=300)["state"] == "succeeded"
    table = ma(cli_env(server, tmp_path), "library", "list", "--session", sid)
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if "word.wav" in line)
    assert "0:00.9" in row and not re.search(r"\b0:00\b(?!\.)", row), row
