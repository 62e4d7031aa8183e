"""StackGAN's captioned data: the bag-of-words text encoder, the dataset layouts, the batches."""

import json
import pickle
import re

import numpy as np
import pytest
from PIL import Image

from tfgan_translate import data
from tfgan_translate.data.captions import CAPTION_DEMO, CaptionDataError, CaptionSplit
from tfgan_translate.data.text_encoder import BagOfWordsEncoder, CaptionError, word_vector

KEYS = ["002.Laysan_Albatross/Laysan_Albatross_0002_1027", "001.Black_footed_Albatross/Black_0046_18",
        "003.Sooty_Albatross/Sooty_0001_796", "001.Black_footed_Albatross/Black_0009_34"]


def _image(path, array, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, np.uint8)).save(path, format=fmt)
    return path


def _pickle(path, value, protocol=2):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(value, f, protocol=protocol)
    return path


def _py2_list_of_str(path, keys):
    """A list of str pickled as Python 2 does (protocol 2, SHORT_BINSTRING: bytes, read as latin1)."""
    body = b"".join(b"U" + bytes([len(k)]) + k.encode("latin1") for k in keys)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x80\x02](" + body + b"e.")
    return path


def _embeddings(n=4, k=10, d=16):
    """Embeddings whose entries 0 and 1 say which image and caption they are."""
    e = np.random.default_rng(0).normal(size=(n, k, d)).astype(np.float32)
    e[..., 0], e[..., 1] = np.arange(n)[:, None], np.arange(k)[None, :]
    return e


def _reference(root, keys=KEYS, cub=False, embeddings=None, as_list=False):
    """StackGAN's layout: py2-style filenames.pickle, a protocol-2 embeddings pickle, an image per key."""
    embeddings = _embeddings(len(keys)) if embeddings is None else embeddings
    _py2_list_of_str(root / "train" / "filenames.pickle", keys)
    _pickle(root / "train" / "char-CNN-RNN-embeddings.pickle", list(embeddings) if as_list else embeddings)
    folder = root / "CUB_200_2011" / "images" if cub else root / "images"
    for i, key in enumerate(keys):  # PNG content under .jpg: the decoder sniffs, and the pixels stay exact
        _image(folder / f"{key}.jpg", np.full((30, 40, 3), 40 * i % 256, np.uint8), fmt="PNG")
    return root


def _text_layout(root, split="train", captions=None):
    captions = captions or {"b": ["a small red circle", "a red disc"], "a": ["a big blue square"],
                            "sub/c": ["a big red square", "the box is red", "one red box"]}
    for i, (name, lines) in enumerate(captions.items()):
        _image(root / split / "images" / f"{name}.png", np.full((8, 8, 3), 30 * i, np.uint8))
        path = root / split / "text" / f"{name}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n\n")
    return root


def _memory_split(n=16, k=10, size=16):
    """In-memory images (a horizontal ramp, so mirroring shows) with identifiable embeddings."""
    ramp = np.tile(np.linspace(0, 255, size, dtype=np.float32)[None, :, None], (size, 1, 3))
    images = np.stack([np.clip(ramp + i, 0, 255) for i in range(n)]).astype(np.uint8)
    return CaptionSplit("train", images, _embeddings(n, k), attributes=np.arange(n * 4).reshape(n, 4))


def _epoch(ds):
    return [{key: value.numpy() for key, value in batch.items()} for batch in ds]


# ----------------------------------------------------------------------------- the text encoder


def test_word_vectors_are_fixed_and_encoders_agree():
    # Pinned values: a change here means saved encoders would read captions differently.
    np.testing.assert_allclose(word_vector("red", 8)[:4], [-1.97371006, 1.34075892, -0.56450754, 1.58216763],
                               rtol=1e-6)
    one, two = BagOfWordsEncoder(["red", "circle"], dim=64), BagOfWordsEncoder(["circle", "red", "big"], dim=64)
    np.testing.assert_array_equal(one.encode(["a red circle"]), two.encode(["a red circle"]))
    assert one.vectors[one.vocabulary.index("red")].std() == pytest.approx(1.0, abs=0.25)


def test_encoder_tokens_unknown_words_and_scale():
    encoder = BagOfWordsEncoder.from_captions(["A small, red circle.", "the bird's 2 wings"], dim=256)
    assert encoder.vocabulary == ("2", "a", "bird's", "circle", "red", "small", "the", "wings")
    assert encoder.tokens("'Red' CIRCLE!!") == ["red", "circle"]
    assert encoder.tokens("the Bird’s café-wings") == ["the", "bird's", "cafe", "wings"]
    assert encoder.unknown_words("a green circle, green") == ["green"]
    embedded = encoder.encode(["a red circle", "a green red circle", "red"])
    assert embedded.shape == (3, 256) and embedded.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embedded, axis=1), 16.0, rtol=1e-5)  # sqrt(dim): entries RMS 1
    np.testing.assert_allclose(embedded[0], embedded[1], rtol=1e-5)  # the unknown word is ignored
    red = word_vector("red", 256)
    np.testing.assert_allclose(embedded[2], red * 16.0 / np.linalg.norm(red), rtol=1e-5)  # one word: its direction


@pytest.mark.parametrize("captions, message", [
    (["a red circle", "   "], "caption 1 is empty"),
    (["!!!"], "caption 0 has no words"),
    (["a red circle", "purple hexagon"], r"caption 1 \('purple hexagon'\) has no word the encoder knows \(unknown: "
                                         r"purple, hexagon\); it knows 3 words, e.g. a, circle, red"),
])
def test_encoder_refuses_captions_it_cannot_encode(captions, message):
    encoder = BagOfWordsEncoder.from_captions(["a red circle"], dim=8)
    with pytest.raises(CaptionError, match=message):
        encoder.encode(captions)
    with pytest.raises(CaptionError, match="text/x.txt line 3"):
        encoder.encode(["hexagon"], names=["text/x.txt line 3"])


def test_encoder_save_load_round_trip_and_bad_files(tmp_path):
    encoder = BagOfWordsEncoder.from_captions(["a red circle", "blue box"], dim=32)
    path = tmp_path / "encoder.json"
    encoder.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["encoder.json"]  # no temporary file left
    loaded = BagOfWordsEncoder.load(path)
    assert loaded == encoder and loaded.dim == 32
    np.testing.assert_array_equal(loaded.encode(["red box"]), encoder.encode(["red box"]))
    payload = json.loads(path.read_text())
    bad = {"garbage.json": "{not json", "kind.json": {**payload, "kind": "char-cnn-rnn"},
           "dim.json": {**payload, "dim": 0}, "vocabulary.json": {**payload, "vocabulary": ["Red Box"]},
           "list.json": [1, 2]}
    reasons = {"garbage.json": "it does not read as JSON", "kind.json": "its kind is 'char-cnn-rnn'",
               "dim.json": "its dim 0 is not a positive integer", "vocabulary.json": "its vocabulary is wrong",
               "list.json": "it holds a JSON list"}
    for name, content in bad.items():
        (tmp_path / name).write_text(content if isinstance(content, str) else json.dumps(content))
        with pytest.raises(ValueError, match=re.escape(f"{tmp_path / name} is not a saved bag-of-words text "
                                                       f"encoder: {reasons[name]}")):
            BagOfWordsEncoder.load(tmp_path / name)
    (tmp_path / "other.json").write_text(json.dumps({**payload, "check": {**payload["check"], "values": [0.5]}}))
    with pytest.raises(ValueError, match="this machine computes other word vectors"):
        BagOfWordsEncoder.load(tmp_path / "other.json")
    with pytest.raises(ValueError, match="does not exist"):
        BagOfWordsEncoder.load(tmp_path / "missing.json")


# ----------------------------------------------------------------------------- the reference layout


@pytest.mark.parametrize("as_list", [False, True])
def test_reference_layout_loads_pickles_in_order(tmp_path, as_list):
    root = _reference(tmp_path, as_list=as_list)
    assert data.caption_layout(root) == "embeddings" and data.caption_encoder(root) is None
    split = data.load_caption_split(root, "train")
    assert split.images == [str(root / "images" / f"{key}.jpg") for key in KEYS]
    np.testing.assert_array_equal(split.embeddings, _embeddings(4))
    assert split.embeddings.shape == (4, 10, 16) and split.captions is None and split.boxes is None
    with pytest.raises(CaptionDataError, match="precomputed embeddings.*pass encoder=None"):
        data.load_caption_split(root, "train", encoder=BagOfWordsEncoder(["red"]))


def test_reference_layout_reads_texts_and_numpy_1_pickles(tmp_path):
    root = _reference(tmp_path)
    old = pickle.dumps(_embeddings(4), protocol=2).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    (root / "train" / "char-CNN-RNN-embeddings.pickle").write_bytes(old)  # as NumPy 1 (and Python 2) wrote them
    for i, key in enumerate(KEYS):
        path = root / "text" / f"{key}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(f"bird {i} caption {k}" for k in range(10)) + "\n")
    split = data.load_caption_split(root, "train")
    np.testing.assert_array_equal(split.embeddings, _embeddings(4))
    assert split.captions[2][7] == "bird 2 caption 7"


def test_unreadable_images_are_skipped_with_their_embeddings(tmp_path):
    root = _reference(tmp_path)
    (root / "images" / f"{KEYS[1]}.jpg").write_bytes(b"not an image")
    with pytest.warns(data.BadImageWarning) as caught:
        split = data.load_caption_split(root, "train")
    assert f"skipping unreadable image file {root / 'images' / KEYS[1]}.jpg" in str(caught[0].message)
    assert len(split) == 3 and split.embeddings[:, 0, 0].tolist() == [0, 2, 3]
    with pytest.raises(data.BadImageError, match=re.escape(f"{KEYS[1]}.jpg")):
        data.load_caption_split(root, "train", strict=True)


def test_cub_layout_crops_each_bird_around_its_box(tmp_path):
    root = _reference(tmp_path, cub=True)
    cub = root / "CUB_200_2011"
    ids = [7, 3, 9, 1]  # not in the pickle's order: matched by key
    (cub / "images.txt").write_text("".join(f"{i} {key}.jpg\n" for i, key in zip(ids, KEYS)))
    boxes = [(10, 5, 8, 6), (0, 0, 40, 30), (36, 20, 6, 4), (12.7, 9.2, 4.9, 3.1)]  # x y w h
    (cub / "bounding_boxes.txt").write_text("".join(f"{i} {' '.join(map(str, b))}\n" for i, b in zip(ids, boxes)))
    split = data.load_caption_split(root, "train")
    # R = int(0.75 * max(w, h)), centre int((2x + w) / 2): windows (top, left, height, width) cut to 30x40.
    expected = [(2, 8, 12, 12), (0, 0, 30, 40), (18, 35, 8, 5), (7, 11, 6, 6)]
    np.testing.assert_array_equal(split.boxes, expected)
    gradient = np.arange(30 * 40 * 3).reshape(30, 40, 3) % 251
    _image(cub / "images" / f"{KEYS[0]}.jpg", gradient, fmt="PNG")
    split = data.load_caption_split(root, "train")
    batch = next(iter(data.caption_batches(split, 12, 4, training=False)))
    np.testing.assert_allclose(batch["image"][0], gradient[2:14, 8:20] / 127.5 - 1, atol=1e-6)  # 12 px: no resize


def test_reference_layout_bad_inputs_are_named(tmp_path):
    def expect(message, root=None):
        with pytest.raises(CaptionDataError, match=message):
            data.load_caption_split(root or tmp_path, "train")

    train = tmp_path / "train"
    names, embeddings = train / "filenames.pickle", train / "char-CNN-RNN-embeddings.pickle"
    _reference(tmp_path)
    names.unlink()
    expect(re.escape(f"{names} is missing"))
    _reference(tmp_path)
    embeddings.unlink()
    expect(re.escape(f"{embeddings} is missing"))
    embeddings.write_bytes(b"\x00 not a pickle")
    expect(re.escape(f"cannot unpickle {embeddings}"))
    embeddings.write_bytes(b"cos\nsystem\n(S'touch " + str(tmp_path / "pwned").encode() + b"'\ntR.")
    expect(re.escape(f"cannot unpickle {embeddings}") + ".*refers to os.system")
    assert not (tmp_path / "pwned").exists()
    _pickle(embeddings, np.zeros((4, 16), np.float32))
    expect(re.escape(f"{embeddings} holds an array of shape (4, 16)") + ".*expected N x K x D")
    _pickle(embeddings, [np.zeros((10, 16))] * 2 + [np.zeros((9, 16))] * 2)
    expect(re.escape(f"{embeddings} holds a list whose entry 2 has shape (9, 16)"))
    _pickle(embeddings, _embeddings(3))
    expect(re.escape(f"{embeddings} holds 3 entries but {names} lists 4 images: they must be written together"))
    _pickle(embeddings, _embeddings(4))
    (tmp_path / "images" / f"{KEYS[1]}.jpg").unlink()
    (tmp_path / "images" / f"{KEYS[3]}.jpg").unlink()
    expect(re.escape(f"2 of the 4 images {names} lists are missing, the first "
                     f"{tmp_path / 'images' / KEYS[1]}.jpg"))
    cub = _reference(tmp_path / "birds", cub=True) / "CUB_200_2011"
    (cub / "images.txt").write_text("".join(f"{i} {key}.jpg\n" for i, key in enumerate(KEYS)))
    expect(re.escape(f"{cub / 'bounding_boxes.txt'} is missing"), tmp_path / "birds")
    expect("is not a captioned dataset", tmp_path / "nowhere")


# ----------------------------------------------------------------------------- the text layout


def test_text_layout_embeds_captions_with_the_train_vocabulary(tmp_path):
    root = _text_layout(tmp_path)
    assert data.caption_layout(root) == "text"
    encoder = data.caption_encoder(root)
    assert encoder.vocabulary == ("a", "big", "blue", "box", "circle", "disc", "is", "one", "red", "small",
                                  "square", "the")
    split = data.load_caption_split(root, "train")
    assert split.images == [str(root / "train" / "images" / f"{n}.png") for n in ("a", "b", "sub/c")]
    assert split.captions[0] == ("a big blue square",) * 3  # one caption, repeated to K = 3
    assert split.captions[1] == ("a small red circle", "a red disc", "a small red circle")
    np.testing.assert_array_equal(split.embeddings[2], encoder.encode(["a big red square", "the box is red",
                                                                       "one red box"]))
    _text_layout(root, "test", {"t": ["a purple circle on the left"]})  # new words: ignored
    test = data.load_caption_split(root, "test")
    np.testing.assert_allclose(test.embeddings[0, 0], encoder.encode(["a circle the"])[0], rtol=1e-5)
    _text_layout(root, "test", {"t": ["a purple circle", "purple hexagons"]})
    with pytest.raises(CaptionError, match=re.escape(f"{root / 'test' / 'text' / 't.txt'} line 2 ('purple hexagons') "
                                                     "has no word the encoder knows")):
        data.load_caption_split(root, "test")


def test_text_layout_bad_inputs_are_named(tmp_path):
    def expect(message):
        with pytest.raises(CaptionDataError, match=message):
            data.load_caption_split(tmp_path, "train")

    images, text = tmp_path / "train" / "images", tmp_path / "train" / "text"
    text.mkdir(parents=True)
    expect(re.escape(f"{images}/ does not exist"))
    images.mkdir()
    expect(re.escape(f"{images}/ holds no image"))
    _text_layout(tmp_path)
    (text / "b.txt").unlink()
    expect(re.escape(f"image {images / 'b.png'} has no captions file {text / 'b.txt'}"))
    (text / "b.txt").write_text("a caption\n")
    (text / "extra.txt").write_text("a caption\n")
    expect(re.escape(f"captions file {text / 'extra.txt'} has no image {images / 'extra'}.*"))
    (text / "extra.txt").unlink()
    (text / "b.txt").write_text("\n  \n")
    expect(re.escape(f"{text / 'b.txt'} holds no caption"))


# ----------------------------------------------------------------------------- the demo


def test_demo_split_embeds_the_shape_captions():
    split = data.load_caption_split(CAPTION_DEMO, "test", image_size=16)
    count = len(split)
    assert split.images.shape == (count, 16, 16, 3) and split.embeddings.shape == (count, 10, 1024)
    assert split.attributes.shape == (count, 4) and len(split.captions[0]) == 10
    encoder = data.caption_encoder(CAPTION_DEMO)
    np.testing.assert_array_equal(split.embeddings[3, 5], encoder.encode([split.captions[3][5]])[0])
    batch = next(iter(data.caption_batches(split, 16, 8, training=False)))
    np.testing.assert_array_equal(batch["attributes"], split.attributes[:8])


# ----------------------------------------------------------------------------- batches


def test_batches_shapes_order_and_captions():
    split = _memory_split()
    ds = data.caption_batches(split, 8, 4, seed=3)
    assert int(ds.cardinality()) == 4
    epoch = _epoch(ds)
    first = epoch[0]
    assert first["image"].shape == (4, 8, 8, 3) and first["image"].dtype == np.float32
    assert first["embedding"].shape == (4, 16) and first["caption_index"].dtype == np.int32
    assert first["attributes"].dtype == np.int64 and -1 <= first["image"].min() and first["image"].max() <= 1
    rows = np.concatenate([b["embedding"][:, 0] for b in epoch]).astype(int)
    assert sorted(rows) == list(range(16)) and list(rows) != list(range(16))  # each image once, shuffled
    picked = np.concatenate([b["caption_index"] for b in epoch])
    np.testing.assert_array_equal(picked, np.concatenate([b["embedding"][:, 1] for b in epoch]))
    assert len(set(picked.tolist())) >= 5  # various captions across the epoch
    np.testing.assert_array_equal(np.concatenate([b["attributes"] for b in epoch]), split.attributes[rows])
    again, other = _epoch(data.caption_batches(split, 8, 4, seed=3)), _epoch(data.caption_batches(split, 8, 4, seed=4))
    for a, b in zip(epoch, again):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    assert any(not np.array_equal(a["embedding"], b["embedding"]) for a, b in zip(epoch, other))
    evaluation = _epoch(data.caption_batches(split, 8, 5, training=False, drop_remainder=False))
    assert [len(b["image"]) for b in evaluation] == [5, 5, 5, 1]
    np.testing.assert_array_equal(np.concatenate([b["embedding"][:, 0] for b in evaluation]), np.arange(16))
    assert not np.concatenate([b["caption_index"] for b in evaluation]).any()


def test_jitter_crops_and_mirrors_only_when_asked():
    split = _memory_split()
    plain = np.concatenate([b["image"] for b in _epoch(data.caption_batches(split, 16, 4, training=False))])
    unjittered = _epoch(data.caption_batches(split, 16, 4, seed=1, jitter=False))
    rows = np.concatenate([b["embedding"][:, 0] for b in unjittered]).astype(int)
    np.testing.assert_array_equal(np.concatenate([b["image"] for b in unjittered]), plain[rows])
    jittered = _epoch(data.caption_batches(split, 16, 4, seed=1))
    images = np.concatenate([b["image"] for b in jittered])
    mirrored = images[:, :, 0, 0] > images[:, :, -1, 0]  # the ramp rises left to right unless mirrored
    assert 0 < mirrored[:, 0].sum() < 16 and (mirrored.all(axis=1) | ~mirrored.any(axis=1)).all()
    assert not np.allclose(images, plain[rows], atol=0.05)  # resized to 19 and cropped: not the plain image


def test_shards_are_rows_of_the_global_batch(tmp_path):
    split = data.load_caption_split(_reference(tmp_path, keys=[f"k{i}" for i in range(10)],
                                               embeddings=_embeddings(10)), "train")
    whole = _epoch(data.caption_batches(split, 8, 4, seed=5))
    parts = [_epoch(data.caption_batches(split, 8, 4, seed=5, shard=(w, 2))) for w in range(2)]
    assert len(whole) == 2 and all(len(p) == 2 for p in parts)
    for i, batch in enumerate(whole):
        for key in batch:
            np.testing.assert_array_equal(np.concatenate([parts[0][i][key], parts[1][i][key]]), batch[key])
    with pytest.raises(ValueError, match="batch_size 6 \\(the global batch\\) does not split over 4 workers"):
        data.caption_batches(split, 8, 6, shard=(0, 4))
    with pytest.raises(ValueError, match="has 10 image\\(s\\) but batch_size=16"):
        data.caption_batches(split, 8, 16)
