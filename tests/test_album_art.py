"""Album art: image uploads beside the audio, checked like audio (header first, then every pixel), never
analysed as audio, and given to the models that see images with `image` (gemma_3n, lyrics)."""

from __future__ import annotations

import hashlib
import struct
import zlib

import numpy as np
from PIL import Image

from tests.audio_synth import sine, write
from tests.test_api_sessions import upload


def cover(path, size=(96, 96), fmt=None):
    """A real image: a gradient with a square, so it is not a flat colour every codec shrinks to nothing."""
    w, h = size
    pixels = np.zeros((h, w, 3), dtype=np.uint8)
    pixels[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    pixels[h // 4: h // 2, w // 4: w // 2, 2] = 255
    Image.fromarray(pixels).save(path, format=fmt)
    return path


def test_an_image_uploads_beside_the_audio_and_batches_skip_it(client, session_id, audio_dir):
    song = write(audio_dir / "art-song.wav", sine(330, 1.0))
    art = cover(audio_dir / "cover.png")
    r = upload(client, session_id, song, art, cover(audio_dir / "back.webp"), cover(audio_dir / "front.jpg"))
    assert r.status_code == 201, r.text
    files = {f["name"]: f for f in r.json()["files"]}
    assert files["cover.png"] | {"bytes": 0, "sha256": ""} == {"name": "cover.png", "bytes": 0, "kind": "image",
                                                               "format": "png", "width": 96, "height": 96,
                                                               "sha256": ""}
    assert files["cover.png"]["sha256"] == hashlib.sha256(art.read_bytes()).hexdigest()
    assert files["back.webp"]["format"] == "webp" and files["front.jpg"]["format"] == "jpeg"
    assert files["art-song.wav"]["kind"] == "audio"
    listed = {f["name"]: f for f in client.get(f"/sessions/{session_id}").json()["files"]}
    assert listed["cover.png"]["kind"] == "image" and listed["cover.png"]["width"] == 96

    # a batch (no `file`) analyses the audio only; naming the image as the audio is refused before queueing
    job = client.wait_job(client.post(f"/process/features/{session_id}", json={}).json()["job_id"])
    assert job["state"] == "succeeded", job
    assert [res["filename"] for res in job["result"]["results"]] == ["art-song.wav"] and not job["result"]["errors"]
    r = client.post(f"/process/features/{session_id}", json={"file": "cover.png"})
    assert r.status_code == 415 and r.json()["error"]["code"] == "not_audio"
    r = client.post(f"/process/compare/{session_id}", json={"files": ["art-song.wav", "cover.png"]})
    assert r.status_code == 415 and r.json()["error"]["code"] == "not_audio"


def with_size(png: bytes, width: int, height: int) -> bytes:
    """The PNG with its IHDR chunk claiming another size (its CRC recomputed): the header of an image too big to
    make for real."""
    data = struct.pack(">II", width, height) + png[24:29]
    ihdr = b"IHDR" + data
    return png[:8] + struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + png[33:]


def test_bad_images_are_refused_whole_with_nothing_stored(client, session_id, audio_dir):
    good = write(audio_dir / "kept-out.wav", sine(440, 0.5))
    whole = cover(audio_dir / "whole.png").read_bytes()
    (audio_dir / "cut.png").write_bytes(whole[: len(whole) // 2])
    cases = {
        "cut.png": (422, "invalid_image"),  # the header reads, the pixels end early
        "named.jpg": (415, "format_mismatch"),  # PNG bytes behind a .jpg name
        "text.png": (415, "unsupported_format"),
        "huge.png": (422, "image_too_large"),  # 6000 x 5000 = 30 Mpx over the 25 Mpx default: refused from the header
        "bomb.png": (422, "image_too_large"),  # a 20000 x 20000 header: Pillow will not open it (was invalid_image)
    }
    (audio_dir / "bomb.png").write_bytes(with_size(whole, 20000, 20000))
    (audio_dir / "named.jpg").write_bytes(whole)
    (audio_dir / "text.png").write_text("not an image at all")
    Image.new("L", (6000, 5000)).save(audio_dir / "huge.png")
    for name, (status, code) in cases.items():
        r = upload(client, session_id, good, audio_dir / name)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (name, r.text)
        assert str(audio_dir) not in r.text and "Traceback" not in r.text
    assert client.get(f"/sessions/{session_id}").json()["files"] == []  # one bad part: nothing of the request kept


def test_the_image_option_names_an_image_a_model_can_see(client, session_id, audio_dir, smollm2_folder):
    upload(client, session_id, write(audio_dir / "opt-song.wav", sine(440, 1.0)), cover(audio_dir / "art.png"))
    base = {"file": "opt-song.wav", "task": "analyze"}
    r = client.post(f"/process/gemma_3n/{session_id}", json={**base, "model_variant": "smollm2-135m",
                                                             "image": "art.png"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "image_not_supported"
    r = client.post(f"/process/gemma_3n/{session_id}", json={**base, "model_variant": "smollm2-135m",
                                                             "image": "opt-song.wav"})
    assert r.status_code == 415 and r.json()["error"]["code"] == "not_image"
    r = client.post(f"/process/gemma_3n/{session_id}", json={**base, "model_variant": "smollm2-135m",
                                                             "image": "missing.png"})
    assert r.status_code == 404
    # the lyrics job checks `image` the same way
    r = client.post(f"/process/lyrics/{session_id}", json={"file": "opt-song.wav", "model_variant": "smollm2-135m",
                                                           "image": "art.png"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "image_not_supported"


def test_an_image_named_as_audio_is_said_to_be_an_image(client, session_id, audio_dir):
    """A stranger's screenshot saved as art.mp3 was refused "the file has no audio stream": true, but neither what
    the file was nor that images are taken, as album art, under their own names."""
    Image.open(cover(audio_dir / "shot.png")).convert("RGB").save(audio_dir / "art.wav", format="JPEG")
    (audio_dir / "art.mp3").write_bytes((audio_dir / "shot.png").read_bytes())
    for name, said in (("art.mp3", "a PNG image"), ("art.wav", "a JPEG image")):
        r = upload(client, session_id, audio_dir / name)
        assert (r.status_code, r.json()["error"]["code"]) == (415, "not_audio"), r.text
        ext = ".png" if "PNG" in said else ".jpg"
        assert r.json()["error"]["message"] == (f"{name!r}: the file is {said}, not audio; an image is taken as album "
                                                f"art for the LLM analyses under its own extension ({ext})"), r.text
