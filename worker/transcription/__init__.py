"""Transcription and lyrics with faster-whisper: options.py (light), weights.py (find/load models),
pipeline.py (transcribe, run_transcription), subtitles.py (txt, srt, vtt, lrc)."""
