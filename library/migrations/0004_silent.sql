-- Whether the track's music analysis (pitch_<stem>.json) found it silent (its warning "silence: nothing to analyse",
-- worker/audio_llm/speech.py SILENCE_WARNING): such a track's `content` is "silence", not "music" (a silent file
-- had been listed among the music, whose speech_share of 0 says only "not speech"). NULL: no music analysis, or
-- indexed before this column (read as before: by speech_share alone; POST /library/reindex fills it in).
ALTER TABLE tracks ADD COLUMN silent BOOLEAN;
