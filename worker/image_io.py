"""Images of a session (album art): checked at upload like audio, opened for the models that see images.

The header is read first (format and size, no pixels), so an image whose pixels are over the limit is
refused before anything is decoded; then the pixels are decoded once to catch truncated and corrupt
files at upload time rather than in a model job. Decoding holds width x height x 4 bytes at most, which
the pixel limit bounds (the default 25 Mpx: ~100 MB).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from config import DEFAULTS
from worker.errors import AudioError, MusicAnalyzerError, UnsupportedMediaError
from worker.files import extension_of

# PIL format name -> the file name extensions that may carry it
IMAGE_FORMATS = {"PNG": frozenset({"png"}), "JPEG": frozenset({"jpg", "jpeg"}), "WEBP": frozenset({"webp"})}
DEFAULT_MAX_IMAGE_PIXELS = int(DEFAULTS["MAX_IMAGE_PIXELS"])


class ImageError(MusicAnalyzerError):
    """The image cannot be used (undecodable, too large, not an image where one is needed)."""

    code = "invalid_image"
    http_status = 422


@dataclass(frozen=True)
class ImageInfo:
    format: str  # png | jpeg | webp
    width: int  # px
    height: int  # px

    def to_dict(self) -> dict:
        return {"kind": "image", "format": self.format, "width": self.width, "height": self.height}


def probe_image(path: str | Path, *, declared_name: str | None = None,
                max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> ImageInfo:
    """Describe the image at `path`, or raise why it is unusable (415 not an accepted image, 422 otherwise)."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise AudioError("the file is empty", code="empty_file")
    shown = declared_name or path.name
    try:
        with Image.open(path) as img:  # reads the header only
            fmt, (width, height) = img.format or "", img.size
            if fmt not in IMAGE_FORMATS:
                raise UnsupportedMediaError(
                    f"{shown!r} is not an accepted image (accepted: PNG, JPEG, WebP)", code="unsupported_format")
            ext = extension_of(shown)
            if ext and ext not in IMAGE_FORMATS[fmt]:
                raise UnsupportedMediaError(f"{shown!r} is named .{ext} but holds a {fmt} image",
                                            code="format_mismatch")
            if width * height > max_pixels:
                raise ImageError(f"the image has {width} x {height} pixels; the limit is {max_pixels:,} pixels",
                                 code="image_too_large", details={"max_pixels": max_pixels})
            img.load()  # every pixel: a truncated or corrupt file fails here, not in a job
    except MusicAnalyzerError:
        raise
    except Image.DecompressionBombError as e:  # Pillow's own ceiling, met at open on a huge header (20000 x 20000)
        raise ImageError(f"the image has more pixels than Pillow opens; the limit is {max_pixels:,} pixels",
                         code="image_too_large", details={"max_pixels": max_pixels}) from e
    except UnidentifiedImageError as e:
        raise UnsupportedMediaError(f"{shown!r} is not an accepted image (accepted: PNG, JPEG, WebP)",
                                    code="unsupported_format") from e
    except (OSError, ValueError, SyntaxError) as e:
        raise ImageError(f"{shown!r} could not be decoded as an image (truncated or corrupt?)") from e
    return ImageInfo(format=fmt.lower(), width=width, height=height)


def open_image(path: Path, *, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> Image.Image:
    """The image as RGB pixels for a model's processor, checked as at upload (files may predate the check)."""
    probe_image(path, max_pixels=max_pixels)
    with Image.open(path) as img:
        return img.convert("RGB")
