"""What to tell a producer whose file is in a format not read here: its name in words and what to do.

A stranger's tracker modules (.it, .s3m, .xm, .mod) had been 415 `not_audio` "no decoder here reads it", and his
CAF and WavPack files 415 "unsupported container/codec caf/pcm_s16le": FFmpeg's names, and no way forward. (CAF with
PCM, ALAC, AAC or IMA4 and WavPack are read now; a CAF holding another codec, Opus, is refused in words.) A Standard
MIDI File, a score as trackers are, had still read "not a decodable audio file (no decoder here reads it)" (a
stranger's kobodeluxe-data trance1.mid); it is named and given the fluidsynth command that renders it.
"""

from __future__ import annotations

import re
from pathlib import Path

ACCEPTED = ("WAV, FLAC, Ogg (Vorbis, Opus, FLAC), MP3, M4A or .aac (AAC, ALAC), AIFF, "
            "WebM or .mka (Opus, Vorbis), CAF (PCM, ALAC, AAC, IMA4), WavPack")

# FFmpeg's container names -> the format's name as a producer knows it, and the extension its files carry
_CONTAINERS = {"w64": ("Sony Wave64", "w64"),
               "au": ("Sun/NeXT audio", "au"), "ape": ("Monkey's Audio", "ape"), "mpc": ("Musepack", "mpc"),
               "mpc8": ("Musepack", "mpc"), "tta": ("True Audio", "tta"), "asf": ("Windows Media Audio", "wma"),
               "ac3": ("Dolby Digital (AC-3)", "ac3"), "eac3": ("Dolby Digital Plus (E-AC-3)", "eac3"),
               "dts": ("DTS", "dts"), "amr": ("AMR", "amr"), "voc": ("Creative Voice", "voc"),
               "dsf": ("DSD Stream File", "dsf"), "iff": ("DSDIFF", "dff"), "shn": ("Shorten", "shn")}

# Headerless audio, known by its name alone (Asterisk's prompts ship as .g722, .sln, .ulaw and .alaw; a stranger's
# .g722 had read "not a decodable audio file" beside its .gsm twin's "raw GSM is not read here"): FFmpeg reads such a
# file only when told its format, rate and channels, and any bytes so named would decode to something, so it is
# refused in words, with a conversion that names what the file does not say. extension -> (name, FFmpeg's input flags)
_HEADERLESS = {"g722": ("headerless G.722 (16 kHz)", "-f g722"),
               "sln": ("headerless 16-bit PCM (Asterisk .sln, 8 kHz)", "-f s16le -ar 8000 -ac 1"),
               "sln16": ("headerless 16-bit PCM (Asterisk .sln16, 16 kHz)", "-f s16le -ar 16000 -ac 1"),
               "ulaw": ("headerless mu-law (8 kHz)", "-f mulaw -ar 8000 -ac 1"),
               "ul": ("headerless mu-law (8 kHz)", "-f mulaw -ar 8000 -ac 1"),
               "alaw": ("headerless A-law (8 kHz)", "-f alaw -ar 8000 -ac 1"),
               "al": ("headerless A-law (8 kHz)", "-f alaw -ar 8000 -ac 1"),
               "g729": ("headerless G.729 (8 kHz)", "-f g729"),
               "pcm": ("headerless PCM", "-f s16le -ar 44100 -ac 2"),
               "raw": ("headerless PCM", "-f s16le -ar 44100 -ac 2")}

# tracker modules: (where the magic is, the magic, the format's name, its extension)
_TRACKERS = ((0, b"IMPM", "Impulse Tracker module", "it"), (0, b"Extended Module: ", "FastTracker 2 module", "xm"),
             (44, b"SCRM", "Scream Tracker 3 module", "s3m"))
_MOD_TAGS = re.compile(rb"M\.K\.|M!K!|M&K!|FLT[48]|EXO[48]|OKTA|OCTA|CD[68]1|[1-9]CHN|[1-9][0-9]CH|TDZ[1-9]")


def tracker_module(path: Path) -> tuple[str, str] | None:
    """(name, extension) of a tracker module (a score and its samples, rendered by the player: FFmpeg reads one only
    when built with libopenmpt, and the PyAV here is not); None for anything else."""
    with open(path, "rb") as fh:
        head = fh.read(1084)
    for at, magic, name, ext in _TRACKERS:
        if head[at:at + len(magic)] == magic:
            return name, ext
    if len(head) == 1084 and _MOD_TAGS.fullmatch(head[1080:1084]):
        return "ProTracker module", "mod"
    return None


# a Standard MIDI File's header chunk: events for a synthesizer, no sound of its own
_MIDI_MAGIC = b"MThd"
# the General MIDI soundfont scripts/install.sh installs (Debian's fluid-soundfont-gm)
GM_SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"


def midi_file(path: Path) -> bool:
    """Whether the file is a Standard MIDI File (.mid, .midi, .smf: its first chunk is MThd)."""
    with open(path, "rb") as fh:
        return fh.read(len(_MIDI_MAGIC)) == _MIDI_MAGIC


# an image's first bytes -> its format, for an image sent under an audio file's name
_IMAGE_MAGIC = ((b"\x89PNG\r\n\x1a\n", "PNG", "png"), (b"\xff\xd8\xff", "JPEG", "jpg"))


def image_message(path: Path) -> str | None:
    """The 415 message for an image named as audio (album art saved as .mp3), else None: it had read "the file has no
    audio stream", true, but not what the file was nor that the page and the CLI take images as album art."""
    with path.open("rb") as fh:
        head = fh.read(12)
    found = next(((name, ext) for magic, name, ext in _IMAGE_MAGIC if head.startswith(magic)), None)
    if found is None and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        found = ("WebP", "webp")
    if found is None:
        return None
    name, ext = found
    return (f"the file is a {name} image, not audio; an image is taken as album art for the LLM analyses under its "
            f"own extension (.{ext})")


def score_message(path: Path) -> str | None:
    """The 415 message for a score rather than a recording (a tracker module or a MIDI file) or an image, else
    None."""
    if (image := image_message(path)) is not None:
        return image
    if midi_file(path):
        return ("the file is a Standard MIDI File (.mid), a score rather than a recording: it holds notes for a "
                "synthesizer and no sound; render it to WAV or FLAC first, e.g. "
                f"`fluidsynth -ni -F song.wav -r 44100 {GM_SOUNDFONT} song.mid` (fluidsynth and Debian's "
                f"fluid-soundfont-gm; any synthesizer or DAW will do) (accepted: {ACCEPTED})")
    return tracker_message(path)


def tracker_message(path: Path) -> str | None:
    """The 415 message for a tracker module: render it to audio first (a module's length is known only by playing
    it, and it may loop forever, so it is not rendered here); None when the file is not one."""
    found = tracker_module(path)
    if found is None:
        return None
    name, ext = found
    article = "an" if name[0] in "AEIOU" else "a"
    return (f"the file is {article} {name} (.{ext}), a score rather than a recording: render it to WAV or FLAC "
            "first, e.g. "
            f"`ffmpeg -i tune.{ext} tune.flac` (an FFmpeg built with libopenmpt) or `openmpt123 --render tune.{ext}`"
            f" (accepted: {ACCEPTED})")


def unsupported_message(container: str, codec: str, long_name: str | None = None) -> str:
    """The 415 message for a container (or a codec in one) read here but not taken: its name in words, what is
    accepted, and how to convert it."""
    names = container.split(",")
    codec = codec.removesuffix("float")  # FFmpeg's decoder names: mp3float, mp2float are MP3 and MP2
    known = next((_CONTAINERS[n] for n in names if n in _CONTAINERS), None)
    if known is not None:
        what, ext = f"{known[0]} (.{known[1]})", known[1]
    elif "matroska" in names:
        what, ext = f"Matroska/WebM with {codec.upper()} audio", "mka"
    elif "caf" in names:
        what, ext = f"Core Audio Format with {codec.upper()} audio", "caf"
    elif "mov" in names or "mp4" in names:
        what, ext = f"MP4 with {codec.upper()} audio", "m4a"
    else:
        what, ext = (long_name or "this audio format"), ""
    source = f"in.{ext}" if ext else "<your file>"
    return f"{what} is not read here (accepted: {ACCEPTED}); convert it first, e.g. `ffmpeg -i {source} out.flac`"


def headerless_message(ext: str) -> str | None:
    """The 415 message for a file whose extension (lower case, no dot) says it is headerless audio (see
    _HEADERLESS); None for other extensions."""
    if ext not in _HEADERLESS:
        return None
    what, flags = _HEADERLESS[ext]
    told = ("naming its real sample format, rate and channels" if ext in ("pcm", "raw")
            else "the flags say what the file does not")
    return (f"the file is {what} audio: it has no header saying how to read it, and it is not read here "
            f"(accepted: {ACCEPTED}); convert it first, e.g. `ffmpeg {flags} -i in.{ext} out.flac` ({told})")
