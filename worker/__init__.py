"""Audio pipelines: plain functions and classes with no Flask and no Celery in them.

One sub-package per capability, each with a light `options.py` (what the API validates before
queueing; no torch or librosa at import) and a `pipeline.py` with
`run_<x>(*, audio_path, results_dir, options, progress)`:

    features/       loudness, spectral descriptors, MFCC, chroma, the overview PNG
    music/          key, tuning, chords, tempo/beats/bars, melody, MIDI
    separation/     Demucs stems and weight-free DSP separation
    transcription/  Whisper (faster-whisper) transcripts and subtitles
    musicgen/       MusicGen text-to-music
    llm/            LLM weights, loading, generation options and generation, status rows
    audio_llm/      Gemma3NProcessor: an LLM that hears (or reads the measurements of) a recording

Shared at this level: audio_io (decode, probe, resample), audio_writers (wav/flac/mp3 out), files
(safe names, atomic writes), errors (the one exception hierarchy), progress, options (the options
protocol and its numeric checks).
"""
