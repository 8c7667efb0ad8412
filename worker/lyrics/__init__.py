"""Lyrics analysis: options.py (light), prompts.py (the transcript as timed lines, the request, the answer's
sections), explicit.py (a word list, not a model), pipeline.py (run_lyrics)."""
