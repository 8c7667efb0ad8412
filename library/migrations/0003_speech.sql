-- What the track's music analysis (pitch_<stem>.json's speech_share) found to be speech without music: a track of
-- SPEECH_SHARE_MIN (worker/audio_llm/speech.py) or more is speech (`content`). NULL: no music analysis, or indexed
-- before this column (POST /library/reindex fills it in from the session files).
ALTER TABLE tracks ADD COLUMN speech_share DOUBLE PRECISION;
