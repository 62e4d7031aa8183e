"""Image files on disk: formats and colour modes, bad files, missing and empty folders."""

import io
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfgan_translate import data


def _rgb(height=24, width=40, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _jpeg_bytes(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG")
    return buffer.getvalue()


def _names(batches):
    return [Path(p.decode()).name for b in batches for p in b["path"].numpy()]


@pytest.fixture
def mixed_folder(tmp_path):
    """Two good images (grayscale PNG, RGBA PNG) and three bad files."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4)
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.txt").write_text("these are my training images\n")
    Image.fromarray(np.tile(np.arange(0, 240, 10, np.uint8), (16, 1)), "L").save(
        folder / "gray.png")
    rgba = np.zeros((16, 24, 4), np.uint8)
    rgba[..., 0] = 200  # opaque red on the left, fully transparent black on the right
    rgba[:, :12, 3] = 255
    Image.fromarray(rgba, "RGBA").save(folder / "rgba.png")
    (folder / ".DS_Store").write_bytes(b"\x00\x01hidden files are ignored")
    return folder


def test_bad_files_are_skipped_and_reported_by_name(mixed_folder):
    with pytest.warns(data.BadImageWarning) as record:
        ds = data.single_folder(mixed_folder, crop_size=16, preprocess="crop", batch_size=8)
    messages = [str(w.message) for w in record if issubclass(w.category, data.BadImageWarning)]
    for name, reason in (("corrupt.jpg", "corrupt"), ("empty.png", "empty file"),
                         ("notes.txt", "not a JPEG, PNG")):
        (line,) = [m for m in messages if name in m]
        assert reason in line
    assert any("skipped 3 unreadable image file(s) of 5" in m for m in messages)
    assert len(messages) == 4
    (batch,) = list(ds)
    assert _names([batch]) == ["gray.png", "rgba.png"]
    images = data.to_uint8(batch["a"]).numpy()
    assert images.shape == (2, 16, 16, 3)
    gray, rgba = images
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    # RGBA is composited on white: opaque left half red, transparent right half white.
    np.testing.assert_array_equal(rgba[:, 0], np.tile([200, 0, 0], (16, 1)))
    np.testing.assert_array_equal(rgba[:, -1], np.full((16, 3), 255))


def test_strict_mode_stops_at_the_first_bad_file(mixed_folder):
    with pytest.raises(data.BadImageError, match=r"corrupt\.jpg.*2 more bad file"):
        data.single_folder(mixed_folder, strict=True)
    assert issubclass(data.BadImageError, ValueError)


def test_truncated_jpeg_is_bad_but_the_rest_of_an_aligned_folder_loads(tmp_path):
    good = _jpeg_bytes(_rgb(32, 64))
    (tmp_path / "good.jpg").write_bytes(good)
    (tmp_path / "truncated.jpg").write_bytes(good[: len(good) // 2])
    with pytest.warns(data.BadImageWarning) as record:
        ds = data.aligned_folder(tmp_path, crop_size=16, batch_size=1, drop_remainder=False)
    assert any("truncated.jpg: corrupt or truncated" in str(w.message) for w in record)
    assert len(list(ds)) == 1
    with pytest.raises(data.BadImageError, match="truncated.jpg"):
        data.aligned_folder(tmp_path, crop_size=16, strict=True)


def test_formats_and_colour_modes_decode_to_the_same_rgb(tmp_path):
    rgb = _rgb(24, 40)
    Image.fromarray(rgb).save(tmp_path / "a_rgb.png")
    Image.fromarray(rgb).save(tmp_path / "b_rgb.bmp")
    Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=64).save(
        tmp_path / "c_palette.png")
    frames = [Image.fromarray(rgb).convert("P"), Image.fromarray(255 - rgb).convert("P")]
    frames[0].save(tmp_path / "d_anim.gif", save_all=True, append_images=frames[1:])
    Image.fromarray(rgb).save(tmp_path / "e_photo.jpg", quality=95)
    Image.fromarray(rgb[..., 0]).save(tmp_path / "f_gray.jpg", quality=95)
    for path in sorted(tmp_path.iterdir()):
        decoded = data.decode_image(tf.io.read_file(str(path))).numpy()
        expected = np.asarray(Image.open(path).convert("RGB"))  # GIF: PIL opens frame 0
        assert decoded.shape == (24, 40, 3), path.name
        tolerance = 8 if path.suffix == ".jpg" else 0
        assert np.abs(decoded.astype(int) - expected).max() <= tolerance, path.name
    assert data.decode_image(tf.io.read_file(str(tmp_path / "a_rgb.png")), 1).shape == (24, 40, 1)


def test_missing_and_empty_folders_say_what_layout_is_expected(tmp_path):
    with pytest.raises(data.FolderLayoutError, match=r"does not exist.*folder of images"):
        data.single_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(data.FolderLayoutError, match=r"is empty.*side-by-side"):
        data.aligned_folder(tmp_path / "empty")
    (tmp_path / "root" / "train").mkdir(parents=True)
    with pytest.raises(data.FolderLayoutError, match=r"subfolders \['train'\]: pass one"):
        data.aligned_folder(tmp_path / "root")
    assert issubclass(data.FolderLayoutError, ValueError)


def test_a_folder_of_only_bad_files_is_an_error(tmp_path):
    (tmp_path / "readme.md").write_text("# not an image")
    with pytest.warns(data.BadImageWarning):
        with pytest.raises(data.FolderLayoutError, match="no readable image"):
            data.single_folder(tmp_path)


def test_aligned_image_with_odd_width_is_a_clear_error(tmp_path):
    Image.fromarray(_rgb(16, 32)).save(tmp_path / "even.png")
    Image.fromarray(_rgb(16, 33)).save(tmp_path / "odd.png")
    with pytest.raises(data.FolderLayoutError,
                       match=r"odd\.png is 33 px wide \(odd\).*left half.*right half"):
        data.aligned_folder(tmp_path, crop_size=8)


def test_checks_are_remembered_until_the_file_changes(tmp_path, monkeypatch):
    from tfgan_translate.data import decode

    Image.fromarray(_rgb()).save(tmp_path / "x.png")
    data.single_folder(tmp_path)
    monkeypatch.setattr(decode, "_decode_check", lambda paths: pytest.fail("re-decoded"))
    data.single_folder(tmp_path)  # unchanged: answered from memory
    (tmp_path / "x.png").write_bytes(b"")  # changed: checked again (by size, no decode)
    with pytest.raises(data.BadImageError, match="empty file"):
        data.single_folder(tmp_path, strict=True)
