"""Decode, validate and resample audio.

soundfile (libsndfile) reads WAV, FLAC, OGG/Vorbis/Opus, MP3, AIFF and CAF (PCM,
ALAC); PyAV (FFmpeg) reads M4A (AAC/ALAC), WebM/Matroska (Opus, Vorbis:
worker/matroska.py), WavPack and CAF with AAC or IMA4, and is the fallback for
anything libsndfile refuses (an ALAC CAF written by FFmpeg, whose packet table
follows its data).
The types and their names: worker/audio_formats.py.
Arrays are float32 shaped (channels, samples), as in librosa's multichannel
convention; the conversions of decoded samples (as_float32, to_mono, resample) are worker/audio_convert.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from worker import adts, matroska, mp3_header
from worker.audio_complete import (
    SNDFILE_WAV_TAGS,
    check_flac_complete,
    check_iff_complete,
    check_ogg_complete,
    wav_codec_tag,
    wav_format,
    wav_length_unset,
)
from worker.audio_convert import as_float32, resample, to_mono  # noqa: F401  (re-exported: the callers' names)
from worker.audio_formats import EXTENSIONS, SF_FORMATS, av_format, check_structure, spoken, walked
from worker.audio_limits import AudioLimits, check_finite
from worker.av_frames import decoded_frames
from worker.declared_length import av_declared_seconds, av_length_differs, av_reaches, length_guessed
from worker.errors import AudioError, UnsupportedMediaError
from worker.files import extension_of
from worker.refused_formats import headerless_message, score_message, unsupported_message

BLOCK_FRAMES = 65536  # frames decoded at a time while validating (constant memory)
UNKNOWN_FRAMES = 2**62  # frame counts this large are "unknown" markers, not lengths

# the containers that also hold video, and how to take the audio out of one (cover art is not a video)
VIDEO_CONTAINERS = {"webm": "ffmpeg -i video.webm -vn -c:a copy audio.webm",
                    "m4a": "ffmpeg -i video.mp4 -vn -c:a copy audio.m4a"}


# called once a header's length is known and believed, before a block is decoded: (format, declared frames, channels,
# borne_out) where borne_out() says whether the file holds a packet at that length (worker/declared_length.py, a few
# ms); it raises to refuse the file (the upload's MAX_REQUEST_SAMPLES, api/uploads.py). Not called for a file whose
# header does not declare its length (an MP3 without a Xing header, a raw AAC, an Ogg, a FLAC of unset total): the
# decode counts those.
BeforeDecode = Callable[[str, int, int, Callable[[], bool]], None]


@dataclass(frozen=True)
class AudioInfo:
    format: str  # one of wav, flac, ogg, mp3, m4a, aiff, webm, caf, wv (worker/audio_formats.py)
    duration_seconds: float
    sample_rate: int  # Hz
    channels: int
    frames: int

    def to_dict(self) -> dict:
        d = {"kind": "audio", **asdict(self)}
        d["duration_seconds"] = round(self.duration_seconds, 3)
        return d


def declared_frames(frames: int) -> int | None:
    """A header's frame count, None when it does not tell: 0, or libsndfile's SF_COUNT_MAX (2**63 - 1)
    for a FLAC whose STREAMINFO leaves the total unset (streamed encoders)."""
    return frames if 0 < frames < UNKNOWN_FRAMES else None


def open_soundfile(path: str | Path) -> sf.SoundFile:
    """libsndfile's reader, for files it can read to the end; raises LibsndfileError otherwise, which
    every caller answers by decoding with PyAV. A FLAC whose header leaves the length unset is one
    libsndfile cannot: it fails at the end of the stream ("psf_fseek() failed"); FFmpeg reads it. An MP3
    without a length header is another: libsndfile stops at a length guessed from the first frame
    (worker/mp3_header.py). A WAV whose header a streaming writer never patched (data size 0) a third: libsndfile
    reads no samples from it (worker/audio_complete.py `wav_length_unset`). Ogg Opus and Ogg FLAC a fourth: an Opus
    transcoded from Vorbis by FFmpeg, whose pages' granules are a little short of their packets, stops partway
    ("malformed": 5 of 6 of a stranger's Wesnoth tracks, accepted at upload and then failed `corrupt_audio` by
    every job), and every Ogg FLAC fails. A FLAC whose frames end before its STREAMINFO total a fifth: cut off, or
    a total that lies (worker/declared_length.py); libsndfile fails at the end of its frames; or after it: libsndfile
    stops at the total."""
    if _is_ogg_for_ffmpeg(Path(path)):
        raise _LengthNotDeclared(0, prefix="Ogg Opus or FLAC; decoded with FFmpeg instead: ")
    f = sf.SoundFile(str(path))
    if f.format == "OGG" and f.channels > 2:  # libsndfile keeps Vorbis' order (L C R Ls Rs LFE), FFmpeg WAV's
        f.close()
        raise _LengthNotDeclared(0, prefix="surround Ogg Vorbis; decoded with FFmpeg in WAV channel order: ")
    if f.frames >= UNKNOWN_FRAMES:
        f.close()
        raise _LengthNotDeclared(0, prefix="length not declared; decoded with FFmpeg instead: ")
    if f.format == "FLAC" and f.frames and av_length_differs(path, f.frames / f.samplerate):  # cut, or a lying total
        f.close()
        raise _LengthNotDeclared(0, prefix="FLAC whose frames end elsewhere than its STREAMINFO length says; "
                                           "decoded with FFmpeg instead: ")
    if f.frames == 0 and f.format in ("WAV", "WAVEX") and wav_length_unset(Path(path)):  # else: no audio indeed
        f.close()
        raise _LengthNotDeclared(0, prefix="WAV whose lengths were never written; decoded with FFmpeg instead: ")
    if f.format in ("MP3", "MPEG") and not mp3_header.declares_length(path):  # libsndfile stops at a guess
        f.close()
        raise _LengthNotDeclared(0, prefix="MP3 without a Xing/Info/VBRI header; decoded with FFmpeg instead: ")
    return f


class _LengthNotDeclared(sf.LibsndfileError):
    pass


def probe(path: str | Path, *, allowed: set[str] | frozenset[str] | None = None,
          declared_name: str | None = None, limits: AudioLimits | None = None,
          before_decode: BeforeDecode | None = None) -> AudioInfo:
    """Check the header against `limits` (and `before_decode`), then decode the whole stream (in blocks) and
    describe it.

    The header check refuses what is too long, too fast or too wide before any decoding. Decoding
    all of it, not just the header, is what catches truncated and corrupt files (and NaN samples) at
    upload time rather than in a job an hour later; it stops once past the duration limit.
    """
    path = Path(path)
    limits = limits or AudioLimits()
    size = path.stat().st_size
    if size == 0:
        raise AudioError("the file is empty", code="empty_file")
    check_structure(path)  # a cut CAF or WavPack: PyAV would take it as a shorter file, or call it not audio
    try:
        try:
            info = _probe_soundfile(path, limits, before_decode)
        except _NotForSoundfile:
            info = _probe_av(path, limits, before_decode)
    except UnsupportedMediaError as e:
        raw = headerless_message(extension_of(declared_name)) if e.code == "not_audio" and declared_name else None
        if raw is None:
            raise
        raise UnsupportedMediaError(raw, code="unsupported_format") from e
    if info.format == "mp3":  # either decoder stops quietly where a cut MP3's bytes do
        mp3_header.check_complete(path)
    if info.frames == 0 or info.duration_seconds <= 0:
        raise AudioError("the file holds no audio samples", code="no_audio")
    if allowed is not None and info.format not in allowed:
        raise UnsupportedMediaError(
            f"{info.format} audio is not accepted (accepted: {', '.join(sorted(allowed))})",
            code="unsupported_format")
    if declared_name:
        ext = extension_of(declared_name)
        if ext and ext not in EXTENSIONS.get(info.format, set()):
            # with the name that would be taken: a stranger's misnamed .wav had been refused with no way out said
            names = EXTENSIONS[info.format]
            renamed = f"{Path(declared_name).stem}.{info.format if info.format in names else min(names)}"
            raise UnsupportedMediaError(
                f"{declared_name!r} is named .{ext} but holds {spoken(info.format)} audio: rename it {renamed!r}",
                code="format_mismatch")
    limits.check_duration(info.duration_seconds)
    return info


class _NotForSoundfile(Exception):
    pass


def _probe_soundfile(path: Path, limits: AudioLimits, before_decode: BeforeDecode | None) -> AudioInfo:
    try:
        with open_soundfile(path) as f:
            fmt = SF_FORMATS.get(f.format)
            if fmt is None:
                raise _NotForSoundfile(f.format)
            sr, channels, declared = f.samplerate, f.channels, declared_frames(f.frames)
            limits.check_header(sample_rate=sr, channels=channels, duration=None)
            if declared and limits.believed(declared / sr, lambda: av_reaches(path, declared / sr)) is None:
                declared = None  # the header's length is not borne out: the decode measures it
            if declared and before_decode is not None:
                length = declared
                before_decode(fmt, length, channels, lambda: av_reaches(path, length / sr))
            stop_after = limits.max_frames(sr)
            frames = 0
            while True:
                block = f.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
                if len(block) == 0:
                    break
                check_finite(block)
                frames += len(block)
                if frames > stop_after:  # the header understated the length: stop decoding here
                    limits.check_duration(frames / sr, at_least=True)
    except _LengthNotDeclared as e:
        raise _NotForSoundfile(str(e)) from e
    except sf.LibsndfileError as e:
        # libsndfile calls a valid Opus stream that starts at a negative time malformed (4 of 16 of a stranger's
        # FFmpeg encodes), and fails on every Ogg FLAC ("unknown error in flac decoder"): FFmpeg judges them
        if _is_ogg_for_ffmpeg(path):
            raise _NotForSoundfile(str(e)) from e
        tag = wav_codec_tag(path)
        if tag is not None and tag not in SNDFILE_WAV_TAGS:
            # a WAV of a codec libsndfile has no decoder for (FLAC, G.726): a stranger's FLAC-in-WAV had been called
            # corrupt; FFmpeg judges it (and calls it not audio where it has no decoder either)
            raise _NotForSoundfile(str(e)) from e
        header = wav_format(path)  # a header libsndfile refuses: the limits say what is wrong with it, if any
        if header is not None:
            limits.check_header(sample_rate=header[1], channels=header[0], duration=None)
        if _looks_like_riff(path) or _sf_knows_header(path):
            check_flac_complete(path)  # a cut FLAC loses the decoder's sync: truncated, not corrupt
            raise AudioError("the audio stream is corrupt (the decoder stopped inside it)", code="corrupt_audio") from e
        raise _NotForSoundfile(str(e)) from e
    except RuntimeError as e:  # libsndfile decode errors mid-stream
        check_flac_complete(path)
        raise AudioError("the audio stream is corrupt (the decoder stopped inside it)", code="corrupt_audio") from e
    if fmt in ("wav", "aiff"):
        check_iff_complete(path)
    if fmt == "ogg":
        check_ogg_complete(path)
    if declared and frames < declared * 0.99:
        raise AudioError(f"the file is truncated: {frames} of {declared} frames decode",
                         code="truncated_audio")
    return AudioInfo(fmt, frames / sr, sr, channels, frames)


def _looks_like_mp4(path: Path) -> bool:
    """An ISO base media file (M4A, MP4): its first box is `ftyp` (a stranger's M4A cut to a third was 'not
    audio', 415, where it is a truncated file of a format read here)."""
    with open(path, "rb") as fh:
        head = fh.read(12)
    return len(head) == 12 and head[4:8] == b"ftyp" and head[8:12].strip() in {b"M4A", b"mp42", b"isom", b"mp41",
                                                                                b"M4B", b"dash", b"iso2"}


def _looks_like_riff(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) in (b"RIFF", b"RF64", b"fLaC", b"OggS")


def _is_ogg_for_ffmpeg(path: Path) -> bool:
    """An Ogg stream of Opus or FLAC (its first page names the codec)."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    return head.startswith(b"OggS") and (b"OpusHead" in head or b"\x7fFLAC" in head)


def _sf_knows_header(path: Path) -> bool:
    try:
        sf.info(str(path))
        return True
    except Exception:
        return False


def _probe_av(path: Path, limits: AudioLimits, before_decode: BeforeDecode | None) -> AudioInfo:
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            streams = container.streams.audio
            if not streams:
                raise UnsupportedMediaError(score_message(path) or "the file has no audio stream", code="not_audio")
            stream = streams[0]
            if stream.codec_context is None:  # a codec FFmpeg has no decoder for (a WAV's unknown format tag)
                raise UnsupportedMediaError(_no_decoder_message(path), code="unsupported_format")
            fmt = av_format(container.format.name, stream.codec_context.name)
            if matroska.is_video(container):
                # refused in both: an MP4 video had been taken as m4a while a WebM one was refused, and its
                # picture track costs the upload's bytes and quota for nothing analysed here. Asked before the
                # codec: a stranger's MKV video with MP3 sound had read "Matroska/WebM with MP3FLOAT audio is not
                # read here ... `ffmpeg -i in.mka out.flac`", FFmpeg's decoder name and no word of the video
                source = "video.mkv" if "matroska" in container.format.name else "<your video>"  # path: a temp name
                way_out = VIDEO_CONTAINERS.get(fmt or "", f"ffmpeg -i {source} -vn audio.flac")
                raise UnsupportedMediaError(
                    f"the file is a video (it has a picture track); upload its audio alone, e.g. `{way_out}`",
                    code="unsupported_format")
            if fmt is None:
                raise UnsupportedMediaError(unsupported_message(container.format.name, stream.codec_context.name,
                                                                container.format.long_name), code="unsupported_format")
            sr = int(stream.codec_context.sample_rate or stream.rate or 0)
            channels = int(stream.codec_context.channels or 0)
            claim = None if length_guessed(container.format.name) else av_declared_seconds(container, stream)
            limits.check_header(sample_rate=sr, channels=channels, duration=None)
            claim = limits.believed(claim, lambda: av_reaches(path, claim or 0.0))
            if claim and sr and before_decode is not None:
                seconds = claim
                before_decode(fmt, round(seconds * sr), channels, lambda: av_reaches(path, seconds))
            stop_after = limits.max_frames(sr)
            frames = 0
            for frame in decoded_frames(container, stream):
                check_finite(frame.to_ndarray())
                frames += frame.samples
                if frames > stop_after:
                    limits.check_duration(frames / sr, at_least=True)
    except (av.error.InvalidDataError, av.error.FFmpegError) as e:
        if _looks_like_mp4(path):  # the container is one we read: its index (moov) or its data is missing
            raise AudioError("the MP4/M4A file is truncated or corrupt (its index or data is missing)",
                             code="truncated_audio") from e
        if walked(path):  # whole (check_structure): damaged inside, not a file of another kind
            raise AudioError("the audio stream is corrupt (the decoder stopped inside it)", code="corrupt_audio") from e
        raise UnsupportedMediaError(score_message(path) or "not a decodable audio file (no decoder here reads it)",
                                    code="not_audio") from e
    if fmt == "flac":  # one shorter than its STREAMINFO total (open_soundfile): cut, or (past the limit) a lie
        check_flac_complete(path, believe_total=claim is not None)
    if fmt == "wav":  # FFmpeg reads a cut WAV of another codec (FLAC) to where its bytes stop
        check_iff_complete(path)
    if fmt == "ogg":  # the Opus libsndfile refused: cut off is cut off whichever decoder reads it
        check_ogg_complete(path)
    if fmt == "webm":  # FFmpeg decodes a cut one to where its bytes stop
        matroska.check_complete(path)
    if fmt == "m4a":  # a raw AAC (ADTS) file too; an M4A is not ADTS, and passes
        adts.check_complete(path)
    return AudioInfo(fmt, frames / sr if sr else 0.0, int(sr or 0), int(channels or 0), frames)


def _no_decoder_message(path: Path) -> str:
    tag = wav_codec_tag(path)
    what = f"a WAV whose codec (format tag 0x{tag:04X})" if tag is not None else "the file's audio codec"
    return f"{what} is not read here (no decoder for it): export it as PCM WAV, FLAC or MP3 from its program"


def load_audio(path: str | Path, *, sr: int | None = None, mono: bool = False,
               offset: float = 0.0, duration: float | None = None) -> tuple[np.ndarray, int]:
    """Decode to float32 `(channels, samples)` (or `(samples,)` when `mono`).

    `sr`: resample to this rate (Hz) with soxr; None keeps the file's rate.
    """
    path = Path(path)
    try:
        with open_soundfile(path) as f:
            native = f.samplerate
            if offset:
                f.seek(int(offset * native))
            n = -1 if duration is None else int(duration * native)
            y = f.read(n, dtype="float32", always_2d=True).T
    except (sf.LibsndfileError, RuntimeError):
        y, native = _load_av(path, offset=offset, duration=duration)
    y = np.ascontiguousarray(y, dtype=np.float32)
    if mono:
        y = to_mono(y)
    if sr is not None and sr != native:
        y = resample(y, orig_sr=native, target_sr=sr)
        native = sr
    return y, native


def _load_av(path: Path, *, offset: float, duration: float | None) -> tuple[np.ndarray, int]:
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            stream = container.streams.audio[0]
            sr = stream.codec_context.sample_rate
            chunks = []
            held, wanted = 0, None if duration is None else int((offset + duration) * sr)
            for frame in decoded_frames(container, stream):
                a = frame.to_ndarray()
                if frame.format.is_planar:
                    chunks.append(a)
                else:
                    chunks.append(a.reshape(-1, frame.layout.nb_channels).T)
                held += chunks[-1].shape[1]
                if wanted is not None and held >= wanted:  # a clip of a long file decodes only its start
                    break
    except (av.error.FFmpegError, IndexError) as e:
        raise UnsupportedMediaError("not a decodable audio file (no decoder here reads it)", code="not_audio") from e
    if not chunks:
        raise AudioError("the file holds no audio samples", code="no_audio")
    y = np.concatenate(chunks, axis=1)
    y = as_float32(y)
    start = int(offset * sr)
    stop = None if duration is None else start + int(duration * sr)
    return y[:, start:stop], sr
