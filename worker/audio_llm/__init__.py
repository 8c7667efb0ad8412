"""Audio LLM analysis (the user's Gemma3NProcessor): options.py (light), prompts.py (chunk plans, feature
text, prompts), processor.py (preprocess -> forward -> postprocess), files.py (result names, transcript
lookup), pipeline.py (run_gemma3n)."""
