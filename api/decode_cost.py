"""What decoding an upload to check it costs, by file type: the weights MAX_REQUEST_SAMPLES counts samples with.

Every uploaded audio file is decoded to its end in the API's thread (worker/audio_io.py `probe`). The request's
bound was set in raw samples, with FLAC's cost in mind (~4 s of CPU per 10^9 samples), but a sample of other codecs
costs more to decode: a reliability trial sent ~21 MB of 8 kHz ADTS AAC, 2 x 10^9 samples, and held an API
thread ~34 s. So each file's samples (frames x channels) count times its type's weight: its decode cost per sample
over FLAC's, never under 1 (a cheaper type, WAV, keeps the raw bound). A type that holds several codecs (M4A: AAC or
ALAC; CAF: PCM, ALAC, AAC or IMA4) counts at its dearest: the description does not name the codec, and a cheap one
counted dear is only sent in more requests, where a dear one counted cheap is what the bound is there to stop.

Figures: `bench/decode_cost.py` (CPU ns per sample of `probe`, median of 3, on a 2-core machine at load 5; FFmpeg
encodes of 60 s of tone and noise, mono, at 4, 8, 44.1 and 48 kHz); each type's figure below is the worst rate's.
A weight is worst over worst, so weighted samples x REFERENCE_NS_PER_SAMPLE bound the decoding in any layout: a
stereo sample costs less than a mono one (FLAC 9-11 ns, WavPack 30, CAF IMA4 144-148: each under its mono worst).

A file whose header declares its length is counted from it before a block is decoded (api/uploads.py
`refuse_past_budget`): one CAF IMA4 file of an hour at 48 kHz stereo, 5 x 10^9 weighted samples, had been decoded to
its end, ~46 s of an API thread, only to be refused after it. A file whose length is not declared is counted as its
decode goes, and the request refused after it.
"""

from __future__ import annotations

from worker.audio_io import AudioInfo

# FLAC's decode cost per sample at its worst rate (8 kHz mono: 20-22 ns; 14 ns at 48 kHz): what MAX_REQUEST_SAMPLES
# was set for, the weight 1
REFERENCE_NS_PER_SAMPLE = 21.7
# each type's worst measured decode cost, ns per sample (frames x channels)
DECODE_NS_PER_SAMPLE = {
    "wav": 4.9,  # PCM 16-bit (libsndfile); cheaper than FLAC: weight 1
    "aiff": 6.6,
    "flac": REFERENCE_NS_PER_SAMPLE,
    "mp3": 24.7,  # 8 kHz; 12.6 at 48 kHz
    "ogg": 41.1,  # Opus at 48 kHz, as WebM's (33-61; 26 at 8 kHz); Vorbis 19-24
    "webm": 41.1,  # Opus at 48 kHz (37-41); 26 at 8 kHz
    "m4a": 52.8,  # ALAC at 4 kHz (36 at 48 kHz); AAC: ADTS 8 kHz 51, 4 kHz 43, 48 kHz 26; in MP4 19-25
    "caf": 323.0,  # IMA4 at 8 kHz (218 at 4, 260 at 48 kHz): 64-sample packets, each a frame through PyAV
    "wv": 50.4,  # WavPack at 4 kHz (37 at 8, 31 at 48 kHz)
}


def decode_weight(info: AudioInfo) -> float:
    """How many reference (FLAC) samples one sample of this file counts as; an unknown type at the dearest."""
    return format_weight(info.format)


def format_weight(fmt: str) -> float:
    """decode_weight of a file of type `fmt` (worker/audio_formats.py's names), known before it is decoded."""
    ns = DECODE_NS_PER_SAMPLE.get(fmt, max(DECODE_NS_PER_SAMPLE.values()))
    return max(1.0, ns / REFERENCE_NS_PER_SAMPLE)


def weighted_samples(info: AudioInfo) -> float:
    """The file's samples (frames x channels) times its type's decode weight."""
    return info.frames * info.channels * decode_weight(info)
