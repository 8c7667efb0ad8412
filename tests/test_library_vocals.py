"""Whether a track has vocals, from its transcript: the words Whisper is sure of, not any words it wrote."""

from __future__ import annotations

import json

import pytest

from library.extract import CLEAR_WORD_SHARE, confident_words, has_vocals, read_track

# tiny.en on Debian's frozen-bubble-data "frozen-mainzik-2p.ogg" (an instrumental, 184 s), as the whisper
# job wrote it: one hallucinated line.
INSTRUMENTAL = {"language": "en", "text": "Let's go.", "segments": [
    {"id": 1, "start": 141.45, "end": 141.51, "text": "Let's go.", "avg_logprob": -1.9276, "no_speech_prob": 0.5891,
     "words": [{"start": 141.45, "end": 141.49, "word": " Let's", "probability": 0.4313},
               {"start": 141.49, "end": 141.51, "word": " go.", "probability": 0.309}]}]}
SUNG = {"language": "en", "text": "The rain keeps falling on my town", "segments": [
    {"id": 1, "start": 2.0, "end": 4.6, "text": "The rain keeps falling on my town", "avg_logprob": -0.31,
     "no_speech_prob": 0.02, "words": [{"start": 2.0 + i / 3, "end": 2.3 + i / 3, "word": f" {w}", "probability": p}
                                       for i, (w, p) in enumerate(zip("The rain keeps falling on my town".split(),
                                                                      (0.9, 0.8, 0.45, 0.7, 0.95, 0.9, 0.6),
                                                                      strict=True))]}]}


def _track(tmp_path, transcript):
    (tmp_path / "transcript_song.json").write_text(json.dumps(transcript))
    return read_track(owner="u", session_id="s", filename="song.wav", results_dir=tmp_path)


def test_a_hallucinated_line_over_an_instrumental_is_not_vocals(tmp_path):
    assert confident_words(INSTRUMENTAL) == 0
    doc = _track(tmp_path, INSTRUMENTAL)
    assert doc.fields["has_vocals"] is False
    assert [line.text for line in doc.lines] == ["Let's go."]  # still searchable as written


def test_sung_words_are_vocals_even_with_a_few_unsure_ones(tmp_path):
    assert confident_words(SUNG) == 6
    assert _track(tmp_path, SUNG).fields["has_vocals"] is True


def test_a_transcript_without_confidences_counts_its_words(tmp_path):
    plain = {"segments": [{"text": "one two three", "words": [{"word": w} for w in ("one", "two", "three")]}]}
    assert confident_words(plain) == 3
    assert _track(tmp_path, plain).fields["has_vocals"] is True
    assert _track(tmp_path, {"segments": []}).fields["has_vocals"] is False



def test_words_where_no_voice_was_heard_are_not_vocals(tmp_path):
    """Asterisk's tt-monkeys.wav (monkeys screeching, 16 s) through tiny.en: its last segment, confident enough by
    Whisper's own figures, was heard by the voice activity detector to hold no voice (speech_share 0.0); the track
    was listed with vocals."""
    words = "We're at the top, we're at the top, we're at the top".split()
    monkeys = {"language": "en", "segments": [
        {"id": 1, "start": 9.2, "end": 15.9, "text": " ".join(words), "avg_logprob": -0.5354, "no_speech_prob": 0.5971,
         "speech_share": 0.0, "words": [{"start": 9.2 + i / 2, "end": 9.6 + i / 2, "word": f" {w}", "probability": p}
                                        for i, (w, p) in enumerate(zip(words, (0.43, 0.06, 0.88, 0.70, 0.85, 0.96,
                                                                               0.97, 0.96, 0.9, 0.9, 0.9, 0.9),
                                                                       strict=False))]}]}
    assert confident_words(monkeys) == 0 and _track(tmp_path, monkeys).fields["has_vocals"] is False
    voiced = {**monkeys, "segments": [{**monkeys["segments"][0], "speech_share": 0.8}]}
    assert confident_words(voiced) >= 3  # the same words heard as a voice are vocals

def test_clearly_spoken_words_are_vocals_though_whisper_reads_some_no_speech(tmp_path):
    """72 s of English words spoken one at a time (Debian's ktuberling-data, en/*.ogg, 1 s apart, 8 kHz mono)
    through tiny.en: every word right, 100 % voiced, no warning on the transcript, but no-speech 0.64-0.81 in each
    segment (a word then a second of silence, over and over). The library had dropped every segment over 0.6 and
    listed the track without vocals; Whisper calls a segment silent only when its log-probability is low too."""
    said = [("bull", 0.05), ("bow", 0.68), ("coat", 0.94), ("ear", 0.8), ("earring", 0.89), ("arch", 0.98),
            ("birds", 0.9), ("boy", 0.89), ("bridge", 0.94), ("camel", 0.92), ("cart", 0.88), ("column", 0.88),
            ("donkey", 0.91), ("girl", 0.94), ("grass", 0.83), ("man", 0.55), ("oasis", 0.86)]
    spoken = {"language": "en", "warnings": [], "segments": [
        {"id": 1, "start": 0.0, "end": 29.0, "text": " ".join(w for w, _ in said), "avg_logprob": -0.4794,
         "no_speech_prob": 0.6384, "speech_share": 1.0,
         "words": [{"start": 1.7 * i, "end": 1.7 * i + 1.5, "word": f" {w}", "probability": p}
                   for i, (w, p) in enumerate(said)]},
        {"id": 4, "start": 67.42, "end": 70.9, "text": "satellite sign", "avg_logprob": -0.5625,
         "no_speech_prob": 0.6909, "speech_share": 1.0,
         "words": [{"start": 67.42, "end": 69.16, "word": " satellite", "probability": 0.93},
                   {"start": 69.16, "end": 70.9, "word": " sign", "probability": 0.78}]}]}
    assert confident_words(spoken) == 18  # all but "bull" (0.05)
    assert _track(tmp_path, spoken).fields["has_vocals"] is True
    # what the transcript's own warning doubts (no-speech 0.8 or more) stays out
    doubted = {**spoken, "segments": [{**seg, "no_speech_prob": 0.85} for seg in spoken["segments"]]}
    assert confident_words(doubted) == 0 and _track(tmp_path, doubted).fields["has_vocals"] is False


def test_a_tracks_analyses_are_its_own_not_those_of_an_upload_whose_stem_ends_in_its_stem(tmp_path):
    """`song.wav` and `live_song.wav` in one session: the glob `analysis_*_song.json` also matched
    `analysis_gemma-3n-E4B_analyze_live_song.json`, and `song`'s library entry carried `live_song`'s analysis."""
    for stem, summary in (("song", "A calm piano piece."), ("live_song", "A loud crowd and drums.")):
        (tmp_path / f"analysis_gemma-3n-E4B_analyze_{stem}.json").write_text(json.dumps({"analysis_summary": summary}))
    song = read_track(owner="u", session_id="s", filename="song.wav", results_dir=tmp_path)
    live = read_track(owner="u", session_id="s", filename="live_song.wav", results_dir=tmp_path)
    assert song.fields["analysis_text"] == "A calm piano piece."
    assert live.fields["analysis_text"] == "A loud crowd and drums."


def _segment(text, start, end, logprob, no_speech, voiced, words):
    return {"start": start, "end": end, "text": text, "avg_logprob": logprob, "no_speech_prob": no_speech,
            "speech_share": voiced, "words": [{"word": f" {w}", "start": s, "end": e, "probability": p}
                                              for w, p, s, e in words]}


# Short but clear speech, as tiny.en (the whisper job's defaults) transcribed it here: too short for three sure words
SHORT_SPEECH = {
    # the repository's own tests/data/tomorrow-en.flac, a real voice (Asterisk's "tomorrow", 0.93 s)
    "tomorrow": {"duration_seconds": 0.928, "segments": [
        _segment("tomorrow", 0.0, 0.48, -0.7903, 0.087, 1.0, [("tomorrow", 0.5652, 0.0, 0.48)])]},
    # Debian pingus-data's sounds/letsgo.wav, a real voice (0.44 s)
    "lets-go": {"duration_seconds": 0.441, "segments": [
        _segment("Let's go.", 0.0, 0.34, -0.558, 0.1914, 1.0,
                 [("Let's", 0.6273, 0.0, 0.3), ("go.", 0.5045, 0.3, 0.34)])]},
    # the stranger's 3-word clip, one word at 0.475 (its other figures: tiny.en's for espeak-ng's reading of it)
    "well-done": {"duration_seconds": 2.1, "segments": [
        _segment("Well done, dude!", 0.0, 1.2, -0.5871, 0.2412, 0.999,
                 [("Well", 0.475, 0.0, 0.3), ("done,", 0.997, 0.3, 0.7), ("dude!", 0.839, 0.7, 1.2)])]},
}
# Sound without a voice that tiny.en wrote words into, as transcribed here (Debian frozen-bubble-data's snd/)
NO_VOICE = {
    "noh.ogg": {"duration_seconds": 0.528, "segments": [
        _segment("Now!", 0.0, 0.24, -0.7617, 0.2088, 0.0, [("Now!", 0.0614, 0.0, 0.24)])]},
    "applause.ogg": {"duration_seconds": 2.062, "segments": [
        _segment("Thank you for watching!", 0.0, 1.62, -1.1183, 0.5197, 0.0,
                 [("Thank", 0.0014, 0.0, 0.88), ("you", 0.9789, 0.88, 0.88), ("for", 0.1672, 0.88, 0.96),
                  ("watching!", 0.7036, 0.96, 1.62)])]},
    "introzik.ogg": {"duration_seconds": 195.5, "segments": [  # an instrumental: digits, doubted and unvoiced
        _segment("1.2.2.4.3.3.5.", 115.05, 131.79, -0.8835, 0.8169, 0.114,
                 [(w, p, 115.05 + i, 116.0 + i) for i, (w, p) in enumerate(
                     [("1", 0.005), (".2", 0.092), (".2", 0.321), (".4", 0.417), (".3", 0.469), (".3", 0.455),
                      (".5.", 0.464)])]),
        _segment("1.2.4.0.", 132.27, 133.39, -0.8835, 0.8169, 0.0,
                 [("1", 0.002, 132.3, 132.5), (".2", 0.848, 132.5, 132.7), (".4", 0.57, 132.7, 133.0),
                  (".0.", 0.5, 133.0, 133.39)])]},
    # letsgo.wav's clear words in 184 s of instrumental (frozen-mainzik-2p's length): a few words are not a voice
    # there, however sure
    "long-instrumental": {"duration_seconds": 183.7, "segments": [
        _segment("Let's go.", 141.45, 141.79, -0.558, 0.1914, 1.0,
                 [("Let's", 0.6273, 141.45, 141.75), ("go.", 0.5045, 141.75, 141.79)])]},
}


@pytest.mark.parametrize("name", sorted(SHORT_SPEECH))
def test_short_but_clear_speech_is_vocals(tmp_path, name):
    """A stranger's 3-word clip ("Well done dude.", one word at 0.475) read has_vocals false: two sure words, where
    three were needed whatever the clip's length. Most of its words are sure and its voice fills the clip."""
    transcript = SHORT_SPEECH[name]
    assert confident_words(transcript) < 3
    assert has_vocals(transcript) and _track(tmp_path, transcript).fields["has_vocals"] is True


@pytest.mark.parametrize("name", sorted(NO_VOICE))
def test_words_written_into_sound_without_a_voice_are_still_not_vocals(tmp_path, name):
    assert _track(tmp_path, NO_VOICE[name]).fields["has_vocals"] is False


def test_mostly_unsure_words_are_not_short_clear_speech(tmp_path):
    """Half the words sure is not "clear": the share needed is CLEAR_WORD_SHARE."""
    unsure = {**SHORT_SPEECH["lets-go"], "segments": [
        {**SHORT_SPEECH["lets-go"]["segments"][0], "words": [
            {"word": " Let's", "start": 0.0, "end": 0.3, "probability": 0.6273},
            {"word": " go.", "start": 0.3, "end": 0.34, "probability": 0.31}]}]}
    assert CLEAR_WORD_SHARE > 0.5 and _track(tmp_path, unsure).fields["has_vocals"] is False


# Debian asterisk-core-sounds-fr-wav's fr_CA_f_June/demo-instruct.wav (70.7 s of French speech, 8 kHz) as the
# whisper job's tiny.en wrote it here (3 of its 8 segments, every one under Whisper's -1.0 failure threshold, all
# 100 % voiced), beside what the pitch job measured of it (speech_share 0.942: "speech, not music")
FRENCH_SPEECH = {"language": "en", "duration_seconds": 70.748, "segments": [
    _segment("To understand the", 20.68, 21.38, -2.6163, 0.2517, 1.0,
             [("To", 0.0042, 20.68, 21.12), ("understand", 0.0178, 21.12, 21.34), ("the", 0.2769, 21.34, 21.38)]),
    _segment("but we can't do this anymore.", 60.1, 62.06, -1.1741, 0.0457, 1.0,
             [("but", 0.4297, 60.1, 60.4), ("we", 0.7561, 60.4, 60.92), ("can't", 0.8116, 60.92, 61.22),
              ("do", 0.8685, 61.22, 61.6), ("this", 0.6658, 61.6, 61.8), ("anymore.", 0.8496, 61.8, 62.06)]),
    _segment("we were able to connect to the social telephonic.", 68.52, 70.54, -1.1741, 0.0457, 1.0,
             [("we", 0.1374, 68.52, 68.74), ("were", 0.1056, 68.74, 68.76), ("able", 0.0786, 68.76, 68.88),
              ("to", 0.9965, 68.88, 68.88), ("connect", 0.027, 68.88, 69.04), ("to", 0.2572, 69.04, 69.5),
              ("the", 0.2926, 69.5, 69.52), ("social", 0.0579, 69.52, 69.84), ("telephonic.", 0.7168, 69.84, 70.54)])]}
FRENCH_PITCH = {"duration_seconds": 70.748, "speech_share": 0.942, "key": {"label": "no key"}, "tempo_bpm": None,
                "warnings": ["speech, not music: no chords, beats or melody notes are given for 70.7 s of speech"]}


@pytest.mark.parametrize("with_transcript", [True, False])
def test_a_track_measured_as_speech_has_vocals_whatever_whisper_made_of_its_words(tmp_path, with_transcript):
    """A stranger's French prompt through tiny.en: the library listed it as `content: speech` (94 % a speaking voice)
    and `has_vocals: false` (no word Whisper was sure of, in a language its model does not know); a filter on
    has_vocals=true left out a track that is nothing but a voice. Without a transcript it had been null."""
    assert not has_vocals(FRENCH_SPEECH)  # Whisper's own figures: no sure word
    (tmp_path / "pitch_song.json").write_text(json.dumps(FRENCH_PITCH))
    if with_transcript:
        (tmp_path / "transcript_song.json").write_text(json.dumps(FRENCH_SPEECH))
    doc = read_track(owner="u", session_id="s", filename="song.wav", results_dir=tmp_path)
    assert doc.fields["speech_share"] == 0.942
    assert doc.fields["has_vocals"] is True
    music = {**FRENCH_PITCH, "speech_share": 0.0}  # music: the transcript alone decides, as before
    (tmp_path / "pitch_song.json").write_text(json.dumps(music))
    doc = read_track(owner="u", session_id="s", filename="song.wav", results_dir=tmp_path)
    assert doc.fields["has_vocals"] is (False if with_transcript else None)
