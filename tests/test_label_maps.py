"""pix2pixHD's label maps, instance maps and photos: layouts, exact ids, shared jitter, clear errors."""

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfgan_translate import data
from tfgan_translate.data import label_demo
from tfgan_translate.data.label_maps import decode_ids, held_out_split
from tfgan_translate.data.options import make_options
from tfgan_translate.data.preprocess import transform


def _png(path, array, mode=None):
    """Save ``array`` (uint8 gray, uint16 gray or uint8 RGB) at ``path``, making its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array), mode).save(path)
    return path


def _reference(root, stems=("0001", "0002", "0003"), size=(8, 8), instances=True, split="train", photo_ext="png"):
    """A tiny reference-layout dataset: labels 0-3, instances class * 1000 + 1, gray photos."""
    height, width = size
    for i, stem in enumerate(stems):
        label = ((np.arange(height * width).reshape(height, width) + i) % 4).astype(np.uint8)
        _png(root / f"{split}_label" / f"{stem}.png", label)
        if instances:
            _png(root / f"{split}_inst" / f"{stem}.png", label.astype(np.uint16) * 1000 + 1)
        _png(root / f"{split}_img" / f"{stem}.{photo_ext}", np.repeat(label[..., None] * 60, 3, -1))
    return root


def _cityscapes(root, split="train", stems=("aachen_000000_000019", "bremen_000001_000019")):
    for stem in stems:
        city = stem.split("_")[0]
        gt, photos = root / "gtFine" / split / city, root / "leftImg8bit" / split / city
        label = np.full((6, 8), 26, np.uint8)
        label[:, :3] = 7
        instance = np.where(label == 26, 26000 + np.arange(8) // 4 + 1, 7).astype(np.uint16)
        _png(gt / f"{stem}_gtFine_labelIds.png", label)
        _png(gt / f"{stem}_gtFine_instanceIds.png", instance)
        _png(gt / f"{stem}_gtFine_color.png", np.zeros((6, 8, 3), np.uint8))  # not a map of ids: ignored
        _png(photos / f"{stem}_leftImg8bit.png", np.zeros((6, 8, 3), np.uint8))
    return root


def _batches(ds, count=None):
    return [{k: v.numpy() for k, v in b.items()} for b in (ds.take(count) if count else ds)]


# ---------------------------------------------------------------- one-hot and reading ids


def test_one_hot_labels_from_both_shapes_inside_a_tf_function():
    ids = np.array([[[0, 2], [1, 0]]], np.int32)
    expected = np.eye(3, dtype=np.float32)[ids]
    for labels in (ids, ids[..., None]):
        out = tf.function(lambda x: data.one_hot_labels(x, 3))(tf.constant(labels))
        assert out.dtype == tf.float32 and out.shape == (1, 2, 2, 3)
        np.testing.assert_array_equal(out.numpy(), expected)
    with pytest.raises(ValueError, match=r"\[B, H, W, 1\] or \[B, H, W\]"):
        data.one_hot_labels(np.zeros((1, 2, 2, 3), np.int32), 3)


def test_sixteen_bit_instance_ids_are_read_exactly(tmp_path):
    ids = np.array([[26001, 26002], [7, 65535]], np.uint16)
    path = _png(tmp_path / "inst.png", ids)
    np.testing.assert_array_equal(data.read_instance_map(path), ids)
    np.testing.assert_array_equal(decode_ids(tf.io.read_file(str(path)))[..., 0].numpy(), ids)
    # ... and through the pipeline: a 4x4 map kept at its size (preprocess "none", no jitter).
    tiled = np.tile(ids, (2, 2))
    _png(tmp_path / "ds" / "train_inst" / "a.png", tiled)
    _png(tmp_path / "ds" / "train_label" / "a.png", np.zeros((4, 4), np.uint8))
    _png(tmp_path / "ds" / "train_img" / "a.png", np.zeros((4, 4, 3), np.uint8))
    ds = data.labelled_dataset(tmp_path / "ds", label_nc=1, preprocess="none", training=False)
    (batch,) = _batches(ds)
    np.testing.assert_array_equal(batch["instance"][0, ..., 0], tiled)
    assert batch["instance"].dtype == np.int32


def test_palette_gray_and_gray_rgb_maps_read_as_their_ids_in_numpy_and_tf(tmp_path):
    ids = np.array([[0, 1, 2], [5, 4, 3]], np.uint8)
    palette = Image.fromarray(ids, "P")
    palette.putpalette([(i * 97) % 256 for i in range(768)])  # colours unlike the indices
    palette.save(tmp_path / "palette.png")
    _png(tmp_path / "gray.png", ids)
    _png(tmp_path / "gray16.png", ids.astype(np.uint16) * 300)
    _png(tmp_path / "gray_rgb.png", np.repeat(ids[..., None], 3, -1))
    assert Image.open(tmp_path / "palette.png").mode == "P"
    for name, expected in [("palette", ids), ("gray", ids), ("gray16", ids.astype(np.int32) * 300), ("gray_rgb", ids)]:
        path = tmp_path / f"{name}.png"
        np.testing.assert_array_equal(data.read_label_map(path), expected, err_msg=name)
        np.testing.assert_array_equal(decode_ids(tf.io.read_file(str(path)))[..., 0].numpy(), expected, err_msg=name)
        graph = tf.data.Dataset.from_tensors(str(path)).map(lambda p: decode_ids(tf.io.read_file(p)))
        np.testing.assert_array_equal(next(iter(graph))[..., 0].numpy(), expected, err_msg=name)


def test_an_rgb_image_is_refused_where_ids_are_expected(tmp_path):
    colours = np.zeros((4, 4, 3), np.uint8)
    colours[..., 0] = 200
    path = _png(tmp_path / "colour.png", colours)
    with pytest.raises(data.LabelMapError, match=r"colour.png is an RGB image; label maps hold one class id per "
                                                 r"pixel \(a gray or palette PNG\)"):
        data.read_label_map(path)
    with pytest.raises(data.LabelMapError, match="colour.png is an RGB image; instance maps hold"):
        data.read_instance_map(path)


# ---------------------------------------------------------------- jitter


def test_nearest_neighbour_resize_and_crop_create_no_new_ids(tmp_path):
    rng = np.random.default_rng(0)
    values, instance_values = np.array([0, 3, 9, 17]), np.array([7, 26001, 26002, 65535])
    for stem in ("a", "b"):
        _png(tmp_path / "train_label" / f"{stem}.png", values[rng.integers(0, 4, (37, 37))].astype(np.uint8))
        _png(tmp_path / "train_inst" / f"{stem}.png", instance_values[rng.integers(0, 4, (37, 37))].astype(np.uint16))
        _png(tmp_path / "train_img" / f"{stem}.png", rng.integers(0, 256, (37, 37, 3)).astype(np.uint8))
    label = data.read_label_map(tmp_path / "train_label" / "a.png")[..., None]
    o = make_options({"crop_size": 32, "load_size": 36})
    blurred = transform(label, o, tf.constant([1, 2]))  # what the photo's bilinear resize would do to ids
    assert set(np.unique(np.round(blurred.numpy()))) - set(values)
    for options in ({"load_size": 36}, {"load_size": 36, "training": False}, {"preprocess": "scale_width_and_crop"}):
        ds = data.labelled_dataset(tmp_path, label_nc=18, crop_size=32, batch_size=2, repeat=True, seed=3, **options)
        for batch in _batches(ds, 4):
            assert batch["label"].shape == (2, 32, 32, 1) and batch["instance"].shape == (2, 32, 32, 1)
            assert set(np.unique(batch["label"])) <= set(values), options
            assert set(np.unique(batch["instance"])) <= set(instance_values), options


def test_label_instance_and_photo_share_each_crop_and_mirror(tmp_path):
    y, x = np.mgrid[:40, :40]
    ids = (x + 40 * y).astype(np.uint16)  # every pixel its own id
    _png(tmp_path / "train_label" / "a.png", ids)
    _png(tmp_path / "train_inst" / "a.png", ids + 20000)
    _png(tmp_path / "train_img" / "a.png", np.stack([6 * x, 6 * y, np.zeros_like(x)], -1).astype(np.uint8))
    ds = data.labelled_dataset(tmp_path, label_nc=1600, preprocess="crop", crop_size=32, batch_size=8,
                               repeat=True, seed=0)
    flips, corners = set(), set()
    for batch in _batches(ds, 3):
        levels = np.round((batch["b"] + 1.0) * 127.5).astype(np.int32)
        from_photo = levels[..., 0] // 6 + 40 * (levels[..., 1] // 6)
        np.testing.assert_array_equal(batch["label"][..., 0], from_photo)
        np.testing.assert_array_equal(batch["instance"], batch["label"] + 20000)
        flips |= set((batch["label"][:, 0, 0, 0] > batch["label"][:, 0, 1, 0]).tolist())
        corners |= set(batch["label"][:, 0, 0, 0].tolist())
    assert flips == {True, False} and len(corners) > 4  # mirrored and not, at several offsets


# ---------------------------------------------------------------- layouts


def test_the_reference_layout_loads_with_and_without_instance_maps(tmp_path):
    root = _reference(tmp_path / "ds", stems=("0002", "0001", "0003"), photo_ext="jpg")
    _reference(root, stems=("0009",), split="test")
    assert data.labelled_layout(root) == "reference" and held_out_split(root) == "test"
    files = data.labelled_files(root)
    assert [f.label for f in files] == [str(root / "train_label" / f"000{i}.png") for i in (1, 2, 3)]
    assert files[0] == data.LabelledFiles(str(root / "train_label/0001.png"), str(root / "train_inst/0001.png"),
                                          str(root / "train_img/0001.jpg"))
    (batch,) = _batches(data.labelled_dataset(root, label_nc=4, image_size=8, batch_size=3))
    assert {k: (v.shape, v.dtype) for k, v in batch.items()} == {
        "label": ((3, 8, 8, 1), np.int32), "instance": ((3, 8, 8, 1), np.int32), "b": ((3, 8, 8, 3), np.float32)}
    assert -1.0 <= batch["b"].min() and batch["b"].max() <= 1.0
    (test,) = _batches(data.labelled_dataset(root, "test", label_nc=4, image_size=8, use_instance=None))
    assert test["label"].shape == (1, 8, 8, 1) and "instance" in test

    bare = _reference(tmp_path / "bare", instances=False)
    assert all(f.instance is None for f in data.labelled_files(bare))
    (batch,) = _batches(data.labelled_dataset(bare, label_nc=4, image_size=8, batch_size=3, use_instance=False))
    assert set(batch) == {"label", "b"}
    assert [f.photo for f in data.labelled_files(bare, require_photos=False)] == [None] * 3


def test_the_cityscapes_layout_loads(tmp_path):
    root = _cityscapes(tmp_path)
    _cityscapes(root, "val", stems=("frankfurt_000000_000294",))
    assert data.labelled_layout(root) == "cityscapes" and held_out_split(root) == "val"
    files = data.labelled_files(root, "train")
    assert [f.label.rsplit("/", 1)[1] for f in files] == [
        "aachen_000000_000019_gtFine_labelIds.png", "bremen_000001_000019_gtFine_labelIds.png"]
    assert files[1].photo.endswith("leftImg8bit/train/bremen/bremen_000001_000019_leftImg8bit.png")
    (batch,) = _batches(data.labelled_dataset(root, label_nc=35, preprocess="none", training=False, batch_size=2))
    assert set(np.unique(batch["label"])) == {7, 26}
    assert set(np.unique(batch["instance"])) == {7, 26001, 26002}
    (val,) = _batches(data.labelled_dataset(root, "val", preprocess="none"))  # label_nc defaults to 35
    assert val["label"].shape == (1, 8, 8, 1)


def test_a_folder_of_neither_layout_is_named_as_such(tmp_path):
    (tmp_path / "trainA").mkdir()
    assert data.labelled_layout(tmp_path) is None
    with pytest.raises(data.LabelMapError, match=r"is not a labelled dataset \(it has the subfolders \['trainA'\]\)"):
        data.labelled_files(tmp_path)


# ---------------------------------------------------------------- bad inputs


def _remove(*names):
    return lambda root: [(root / name).unlink() for name in names]


def _resave(name, shape, value=0, dtype=np.uint8):
    return lambda root: _png(root / name, np.full(shape, value, dtype))


def _set_pixel(name, value):
    def change(root):
        label = np.asarray(Image.open(root / name)).copy()
        label[2, 5] = value
        _png(root / name, label)
    return change


@pytest.mark.parametrize("change, kwargs, match", [
    (_remove("train_img/0002.png"), {},
     r"label map \S+train_label/0002.png has no photo \(looked for \S+train_img/0002.\*\): training needs the photo"),
    (_remove("train_label/0002.png", "train_inst/0002.png"), {},
     r"photo \S+train_img/0002.png has no label map \(looked for \S+train_label/0002.\*\): add its label map"),
    (_remove("train_inst/0002.png"), {"use_instance": None},
     r"label map \S+train_label/0002.png has no instance map .*pass use_instance=False"),
    (lambda root: shutil.rmtree(root / "train_inst"), {},
     r"instance maps are asked for, but there are none \(\S+train_inst/\): add them or pass use_instance=False"),
    (_resave("train_img/0002.png", (8, 9, 3)), {},
     r"label map \S+train_label/0002.png is 8x8 px but \S+train_img/0002.png is 9x8 px \(width x height\)"),
    (_resave("train_inst/0003.png", (7, 8), dtype=np.uint16), {},
     r"label map \S+train_label/0003.png is 8x8 px but \S+train_inst/0003.png is 8x7 px"),
    (_set_pixel("train_label/0003.png", 40), {"label_nc": 35},
     r"train_label/0003.png holds class id 40, outside \[0, 35\): set --label-nc \(label_nc\) above the largest id"),
    (_resave("train_label/0001.png", (8, 8, 3), value=(10, 200, 30)), {},
     r"train_label/0001.png is an RGB image; label maps hold one class id per pixel"),
    (lambda root: None, {"label_nc": None}, r"give label_nc, the number of classes"),
    (lambda root: None, {"split": "val"}, r"split 'val' is not one of the reference layout's splits"),
])
def test_bad_inputs_are_refused_up_front_naming_the_file(tmp_path, change, kwargs, match):
    root = _reference(tmp_path)
    change(root)
    kwargs = {"label_nc": 4, **kwargs}
    with pytest.raises(data.LabelMapError, match=match):
        data.labelled_dataset(root, image_size=8, **kwargs)


def test_a_cityscapes_label_map_without_its_photo_names_the_expected_file(tmp_path):
    root = _cityscapes(tmp_path)
    (root / "leftImg8bit/train/bremen/bremen_000001_000019_leftImg8bit.png").unlink()
    with pytest.raises(data.LabelMapError, match=r"bremen_000001_000019_gtFine_labelIds.png has no photo \(looked "
                                                 r"for \S+leftImg8bit/train/bremen/bremen_000001_000019_leftImg8bit"):
        data.labelled_files(root)


def test_an_unreadable_map_skips_its_example_or_stops_a_strict_run(tmp_path):
    root = _reference(tmp_path)
    (root / "train_label" / "0002.png").write_bytes(b"not a png")
    with pytest.raises(data.BadImageError, match=r"cannot read map \S+train_label/0002.png"):
        data.labelled_dataset(root, label_nc=4, image_size=8, strict=True)
    with pytest.warns(data.BadImageWarning, match=r"skipping the example of unreadable map \S+0002.png"):
        ds = data.labelled_dataset(root, label_nc=4, image_size=8, batch_size=1, training=False)
    assert len(_batches(ds)) == 2


# ---------------------------------------------------------------- demo


def test_the_demo_writer_makes_a_held_out_labelled_dataset_deterministically(tmp_path):
    label_nc = data.write_demo_labelled(tmp_path / "a", size=16, train=8, test=4, seed=0)
    root = tmp_path / "a"
    classes = json.loads((root / "classes.json").read_text())
    assert label_nc == classes["label_nc"] == len(classes["classes"]) == len(label_demo.CLASSES)
    assert data.labelled_layout(root) == "reference" and len(data.labelled_files(root, "test")) == 4
    countable = [k for k, (_, _, c) in enumerate(label_demo.CLASSES) if c]
    for f in data.labelled_files(root) + data.labelled_files(root, "test"):
        label, instance = data.read_label_map(f.label), data.read_instance_map(f.instance)
        assert label.min() >= 0 and label.max() < label_nc
        objects = instance >= 1000
        np.testing.assert_array_equal(np.where(objects, instance // 1000, instance), label)
        assert set(np.unique(label[objects])) <= set(countable)
        assert np.isin(label, countable).sum() == objects.sum()  # every countable pixel is an object's
    train = {(root / "train_img" / p.name).read_bytes() for p in (root / "train_img").iterdir()}
    assert not train & {p.read_bytes() for p in (root / "test_img").iterdir()}
    data.write_demo_labelled(tmp_path / "b", size=16, train=8, test=4, seed=0)
    data.write_demo_labelled(tmp_path / "c", size=16, train=8, test=4, seed=1)
    same = [(root / d / "0003.png").read_bytes() == (tmp_path / "b" / d / "0003.png").read_bytes()
            for d in ("train_label", "train_inst", "train_img", "test_img")]
    assert all(same)
    assert (root / "train_img/0003.png").read_bytes() != (tmp_path / "c/train_img/0003.png").read_bytes()
    for split in ("train", "test"):  # label_nc read from classes.json
        (batch,) = _batches(data.labelled_dataset(root, split, image_size=16, batch_size=4), 1)
        assert batch["label"].max() < label_nc and batch["instance"].shape == (4, 16, 16, 1)


def test_demo_labels_is_written_once_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TFGAN_TRANSLATE_CACHE", str(tmp_path))
    folder = label_demo.demo_labels_folder(size=16)
    assert folder.parent == tmp_path and data.labelled_layout(folder) == "reference"
    assert [len(data.labelled_files(folder, split)) for split in ("train", "test")] == [300, 50]
    stamp = (folder / "classes.json").stat().st_mtime_ns
    assert label_demo.demo_labels_folder(size=16) == folder and (folder / "classes.json").stat().st_mtime_ns == stamp
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]  # no staging folder left behind
