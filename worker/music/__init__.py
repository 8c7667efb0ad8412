"""Music analysis ("Pitch Analysis"): key, tuning, chords, tempo/beats/downbeats/metre, melody.

Plain Python (numpy/scipy/librosa), no Flask or Celery: the task layer calls `run_pitch`,
the route validates `PitchOptions.from_request(body)` (options.py, light) before enqueueing.

Result (the stages in `include`, plus "filename", "duration_seconds", "files" from run_pitch):
    key: {tonic ("C".."B" | None), mode ("major"/"minor" | None), label ("A minor" | "no key"),
          confidence 0..1 (the key model's probability times how tonal the audio is), score,
          candidates: [{tonic, mode, label, score}] (runners-up, score = probability),
          changes: [{time, tonic, mode, label}] (the key timeline when the piece modulates, else [])}
    tuning_cents: float (reference pitch vs A440)
    chords: [{start, end, label}] with labels "C:maj", "A:min", "G:7", "N"; changes on beats
    tempo_bpm (float | None), tempo_confidence 0..1, beat_times, downbeat_times (s),
    tempo_changes: [{start, end, bpm}] (where the beats leave tempo_bpm: tempo_changes.py, else [])
    time_signature ("4/4" | "3/4" | "6/8" | "9/8" | "12/8" | None; in compound metres the beat is the
    dotted quarter), beats_per_bar
    speech_segments: [[start, end]] s, speech_share 0..1 (with chords/tempo/beats: speech without music,
        worker/music/speech.py; its chords are "N", and a track of 60 % speech or more gets no tempo or beats)
    warnings: [str] ("tempo may be double or half (190 BPM also fits)", "no clear key", ...)
    melody: {notes: [{onset, offset, midi, name}], f0: {hop_seconds, start_seconds, hz: [...], voiced: [...]}}
        (frame i is at start_seconds + i * hop_seconds; hz is the tracked pitch on unvoiced frames too)
Files: pitch_<stem>.json, .txt (summary), .png (chromagram + chords + beat/bar grid; confidences and
warnings in the title), .mid (melody, chord and beat/bar tracks).
A run with `include` writes the files merged with the earlier result of the same upload (merged.py): the stages it
did not report are kept, `stage_sources` names each stage's job; its returned result is what it computed.
run_pitch streams the file in blocks (worker/audio_blocks.py): memory does not grow with the samples.
Accuracy and speed: bench/pitch_accuracy.py, bench/pitch_speed.py (test set: bench/pitch_testset.py).
"""
