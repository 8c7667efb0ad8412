"""faster-whisper's model with word alignment guarded against a stretch too short to align.

Whisper decodes up to 30 s at a time, each time from where its last decoding ended; whatever is left at the end,
however little, is decoded on its own. Word times come from CTranslate2's `align`, which reads `num_frames // 2`
encoder frames (one per two 10 ms mel frames). A stretch of one mel frame (under 20 ms: a stranger's whole 10 ms
file, or the last 10-15 ms of espeak speech cut at 30.01 s in runs where Whisper's first chunk ended at 30 s) has
none: `align` returns an empty path and faster-whisper 1.2.1's `find_alignment` fails on it (IndexError: boolean
index did not match indexed array along axis 0), losing the whole transcript. Such a stretch gets no word times
instead (its segments keep their text and segment times); `words_missing_warning` (words.py) says so in the result.
Importing this module imports faster-whisper, CTranslate2 and PyAV (~1 s): only loading a model does (weights.py).
"""

from __future__ import annotations

from faster_whisper import WhisperModel

# encoder frames a stretch needs for its words to be aligned: CTranslate2's align reads num_frames // 2 of them
MIN_ALIGN_ENCODER_FRAMES = 1


class GuardedWhisperModel(WhisperModel):
    """WhisperModel whose word alignment gives no words for a stretch too short to align (see the module)."""

    def find_alignment(self, tokenizer, text_tokens, encoder_output, num_frames, median_filter_width=7):
        if num_frames // self.input_stride < MIN_ALIGN_ENCODER_FRAMES:
            return [[] for _ in text_tokens]  # no words for each segment: add_word_timestamps takes that
        return super().find_alignment(tokenizer, text_tokens, encoder_output, num_frames,
                                      median_filter_width=median_filter_width)
