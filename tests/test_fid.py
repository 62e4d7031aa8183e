"""The FID Inception network: its blocks against an independent PyTorch rendering, the published
file's layout, the resize protocols, and FID reports that say what they were computed with."""

import json

import keras
import numpy as np
import pytest

from tfgan_translate import cli, metrics, pix2pix, training
from tfgan_translate.app import fid_flags
from tfgan_translate.metrics import features as feature_lib
from tfgan_translate.metrics import fid_weights

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch_fid_inception import calibrated_random_network  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def private_caches(tmp_path, monkeypatch):
    """Converted weights go to a test folder, and pytorch-fid's download folder is empty."""
    monkeypatch.setenv("TFGAN_TRANSLATE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The PyTorch rendering with random weights (batch-norm statistics of a random batch) and its
    ``state_dict`` saved as the published file is: ``torch.save(net.state_dict())``."""
    net = calibrated_random_network(seed=0)
    path = tmp_path_factory.mktemp("fid") / "random_fid_inception.pth"
    torch.save(net.state_dict(), path)
    return net, path


def torch_features(net, images_nhwc, dtype=torch.float32):
    with torch.no_grad():
        return net.to(dtype)(torch.from_numpy(images_nhwc.transpose(0, 3, 1, 2)).to(dtype)).numpy()


def test_the_network_has_inception_v3s_convolutions_with_scaled_batch_norms():
    """Derived, not copied: the FID graph has Keras InceptionV3's convolutions and batch-norm
    centres/statistics, plus a scale per batch-norm channel (Keras' InceptionV3 has none); in
    PyTorch's count (parameters without buffers, with the 1008-way fc) that is 23,850,960."""
    ours = metrics.build_fid_inception()
    keras_v3 = keras.applications.InceptionV3(include_top=False, weights=None, pooling="avg")
    norms = [layer for layer in ours.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert ours.count_params() == keras_v3.count_params() + sum(layer.gamma.shape[0] for layer in norms)
    assert len(norms) == 94 and ours.output_shape == (None, 2048)
    net = calibrated_random_network(seed=1, images=1)
    moving = sum(2 * layer.gamma.shape[0] for layer in norms)
    torch_parameters = sum(p.numel() for p in net.parameters())
    assert torch_parameters == ours.count_params() - moving + 2048 * 1008 + 1008 == 23_850_960


def test_converted_weights_compute_the_pytorch_features(reference):
    """Same weights, same random 299 x 299 inputs: in float64 the two computations agree to
    round-off (< 1e-9: every block, pool and padding is the same; this is the issue's 1e-4
    check, met with room to spare); in float32 they agree as closely as PyTorch's float32
    agrees with its own float64 (both about 2e-4 on features up to 3: 94 layers of round-off)."""
    net, path = reference
    images = np.random.default_rng(0).uniform(-1, 1, (2, 299, 299, 3))
    exact = metrics.convert_fid_weights(path, metrics.build_fid_inception(dtype="float64"))(images).numpy()
    expected = torch_features(net, images, torch.float64)
    assert np.abs(exact - expected).max() < 1e-9
    ours = metrics.convert_fid_weights(path)(images.astype(np.float32)).numpy()
    theirs = torch_features(net, images.astype(np.float32))
    torch_round_off = np.abs(theirs - expected).max()
    assert np.abs(ours - theirs).max() <= max(1e-4, 2 * torch_round_off) and torch_round_off < 1e-3
    assert np.abs(expected).max() > 1 and expected.std() > 0.1  # features of a meaningful size


def test_features_follow_pytorch_fids_protocol_and_the_conversion_is_cached(reference, tmp_path, monkeypatch):
    """Images of any size in [-1, 1]: rounded to 8 bits, bilinear-resized without antialiasing
    (pytorch-fid's F.interpolate(align_corners=False)), scaled by 2 x - 1, then the network; the
    second use reads the cached Keras weights (a conversion would fail here), a damaged cache
    file is converted again, and the report fields name the file and its hash."""
    net, path = reference
    images = np.random.default_rng(1).uniform(-1, 1, (3, 40, 56, 3)).astype(np.float32)
    features = metrics.FIDInceptionFeatures(str(path), batch_size=2)
    ours = features(images)
    levels = torch.from_numpy(np.round((images + 1) * 127.5).transpose(0, 3, 1, 2) / 255.0)
    resized = F.interpolate(levels.float(), size=(299, 299), mode="bilinear", align_corners=False) * 2 - 1
    with torch.no_grad():
        theirs = net.float()(resized).numpy()
    assert np.abs(ours - theirs).max() < 2e-4 * np.abs(theirs).max()  # float32 round-off, as above
    cached = list((tmp_path / "cache").glob("fid_inception-*.weights.h5"))
    assert len(cached) == 1 and features.weights_sha256 == fid_weights.file_sha256(path)

    def no_conversion(*args, **kwargs):
        raise AssertionError("converted again although the cache holds the weights")

    with monkeypatch.context() as patch:
        patch.setattr(fid_weights, "convert_fid_weights", no_conversion)
        again = metrics.FIDInceptionFeatures(str(path), batch_size=3)
        np.testing.assert_allclose(again(images), ours, rtol=1e-4, atol=1e-4)  # other batches: other summation order
    described = again.describe()
    assert described["network"] == "fid-inception" and described["weights"] == path.name
    assert described["weights_sha256"] == features.weights_sha256 and described["resize"] == "legacy"
    assert described["comparable_with_published_fid"] is False  # not the published file's hash
    cached[0].write_bytes(b"not an h5 file")
    lines = []
    model, _ = fid_weights.load_fid_weights(path, log=lines.append)
    assert "could not be read" in lines[0] and model.count_params() == 21_820_000
    assert cached[0].read_bytes()[:4] == b"\x89HDF"  # rewritten


def test_the_legacy_file_format_converts_without_torch_and_an_unwritable_cache_only_costs_time(
        reference, tmp_path, monkeypatch):
    """The published file may predate torch 1.6's zip format: our reader (used whether or not torch
    is installed) reads both to the same weights."""
    net, zipped = reference
    legacy = tmp_path / "legacy_fid_inception.pth"
    torch.save(net.state_dict(), legacy, _use_new_zipfile_serialization=False)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("TFGAN_TRANSLATE_CACHE", str(blocked))
    lines = []
    model, sha = fid_weights.load_fid_weights(legacy, log=lines.append)
    assert "could not be cached" in lines[0] and "TFGAN_TRANSLATE_CACHE" in lines[0]
    reference_model = metrics.convert_fid_weights(zipped)
    for ours, theirs in zip(model.weights, reference_model.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert sha == fid_weights.file_sha256(legacy)


def _saved(state, path):
    torch.save(state, path)
    return path


def test_a_file_with_missing_extra_or_wrong_keys_gets_a_clear_error(reference, tmp_path):
    net, _ = reference
    state = net.state_dict()
    missing = {k: v for k, v in state.items() if k != "Mixed_6c.branch7x7dbl_3.bn.running_var"}
    with pytest.raises(metrics.FIDWeightsError, match="no key 'Mixed_6c.branch7x7dbl_3.bn.running_var'"):
        metrics.convert_fid_weights(_saved(missing, tmp_path / "missing.pth"))
    extra = {**state, "Mixed_8a.branch1x1.conv.weight": torch.zeros(8, 8, 1, 1)}
    with pytest.raises(metrics.FIDWeightsError, match="'Mixed_8a.branch1x1.conv.weight'.*no place"):
        metrics.convert_fid_weights(_saved(extra, tmp_path / "extra.pth"))
    wrong = {**state, "Conv2d_1a_3x3.conv.weight": torch.zeros(32, 1, 3, 3)}
    with pytest.raises(metrics.FIDWeightsError, match=r"shape \(32, 1, 3, 3\) but the model expects \(32, 3, 3, 3\)"):
        metrics.convert_fid_weights(_saved(wrong, tmp_path / "wrong.pth"))
    torchvision_like = {**state, "AuxLogits.conv0.conv.weight": torch.zeros(128, 768, 1, 1)}
    with pytest.raises(metrics.FIDWeightsError, match="torchvision's ImageNet Inception-v3.*pt_inception-2015-12-05"):
        metrics.convert_fid_weights(_saved(torchvision_like, tmp_path / "inception_v3_google.pth"))
    without_aux = {**state, "fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000)}
    with pytest.raises(metrics.FIDWeightsError, match="1000 classes.*1008.*torchvision"):
        metrics.convert_fid_weights(_saved(without_aux, tmp_path / "inception_v3_no_aux.pth"))
    with pytest.raises(metrics.FIDWeightsError, match="not an Inception checkpoint.*'model.1.weight'"):
        metrics.convert_fid_weights(_saved({"model.1.weight": torch.zeros(3)}, tmp_path / "latest_net_G.pth"))
    keras_file = tmp_path / "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
    keras_file.write_bytes(b"\x89HDF")
    with pytest.raises(metrics.FIDWeightsError, match="a Keras weights file.*--fid-network keras-inception-v3"):
        metrics.load_fid_weights(keras_file)
    with pytest.raises(metrics.InceptionWeightsError, match="a PyTorch file.*--fid-network fid-inception"):
        metrics.build_inception(str(tmp_path / "extra.pth"))
    with pytest.raises(metrics.FIDWeightsError, match="FID Inception weights.*releases/download/fid_weights"):
        metrics.FIDInceptionFeatures()  # no file given, none where pytorch-fid downloads it


def test_the_published_file_is_found_where_pytorch_fid_downloads_it(reference, tmp_path):
    _, path = reference
    folder = tmp_path / "torch_home" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / fid_weights.PUBLISHED_FILE).symlink_to(path)
    assert metrics.FIDInceptionFeatures().weights == folder / fid_weights.PUBLISHED_FILE
    assert fid_weights.is_published("6726825d" + "0" * 56) and not fid_weights.is_published("d8971306" + "0" * 56)


def test_clean_resize_antialiases_where_the_legacy_resize_aliases():
    """A one-pixel checkerboard shrunk from 897 to 299 px (every third pixel): the legacy bilinear
    resize samples pixels and keeps a full-contrast pattern; clean-fid's PIL bicubic averages it
    to grey. Clean-fid's scaling is the 2015 graph's (v - 128) / 128, pytorch-fid's v / 127.5 - 1."""
    from PIL import Image

    board = (np.indices((897, 897)).sum(axis=0) % 2).astype(np.float32)[None, :, :, None] * 2 - 1
    legacy = metrics.preprocess(board, "legacy").numpy()
    clean = metrics.preprocess(board, "clean").numpy()
    assert legacy.std() > 0.9 and clean.std() < 0.05 and abs(clean.mean()) < 0.05
    image = np.random.default_rng(2).uniform(-1, 1, (1, 48, 64, 3)).astype(np.float32)
    levels = np.round((image[0] + 1) * 127.5)
    expected = np.stack([np.clip(np.asarray(Image.fromarray(levels[..., c].astype(np.float32), mode="F").resize(
        (299, 299), Image.BICUBIC)), 0, 255) for c in range(3)], -1)
    np.testing.assert_allclose(metrics.preprocess(image, "clean").numpy()[0], (expected - 128) / 128, atol=1e-5)
    same_size = np.random.default_rng(3).uniform(-1, 1, (1, 299, 299, 3)).astype(np.float32)
    np.testing.assert_allclose(metrics.preprocess(same_size, "legacy").numpy(),
                               np.round((same_size + 1) * 127.5) / 127.5 - 1, atol=1e-5)
    with pytest.raises(ValueError, match="--fid-resize must be one of legacy, clean"):
        metrics.preprocess(image, "nearest")


def test_the_cli_flags_offer_what_the_metrics_support():
    assert set(metrics.HIGHER_IS_BETTER) == set(metrics.ALL_METRICS)  # every metric has a "best"
    assert fid_flags.NETWORKS == feature_lib.NETWORKS and fid_flags.RESIZE_MODES == feature_lib.RESIZE_MODES
    assert fid_flags.PUBLISHED_FILE == fid_weights.PUBLISHED_FILE


def test_evaluate_with_fid_weights_reports_network_weights_hash_resize_and_set_sizes(reference, tmp_path, capsys):
    _, weights = reference
    run_dir = tmp_path / "p2p"
    assert cli.main(["train", "pix2pix", "--dataset", "demo-paired", "--run-dir", str(run_dir), "--image-size", "32",
                     "--ngf", "4", "--ndf", "4", "--batch-size", "4", "--steps", "3", "--checkpoint-every", "1",
                     "--keep-checkpoints", "0", "--sample-every", "0", "--no-progress"]) == 0
    assert len(list((run_dir / "checkpoints").glob("ckpt-*.index"))) == 3  # all kept
    capsys.readouterr()
    assert cli.main(["evaluate", "--run-dir", str(run_dir), "--dataset", "demo-paired", "--metrics", "fid,kid",
                     "--fid-weights", str(weights), "--fid-resize", "clean", "--max-images", "6",
                     "--batch-size", "3"]) == 0
    out = capsys.readouterr().out
    report = json.loads((run_dir / "eval" / "report_step_3.json").read_text())
    described = report["inception"]
    assert described["network"] == "fid-inception" and described["weights"] == weights.name
    assert described["weights_sha256"] == fid_weights.file_sha256(weights) and described["resize"] == "clean"
    assert "clean-fid" in described["resize_description"] and described["comparable_with_published_fid"] is False
    result = report["results"]["AtoB"]
    assert result["num_images"] == 6 and result["num_real_images"] == 6
    assert np.isfinite(result["fid"]) and result["fid"] > 0 and np.isfinite(result["kid_std"])
    assert "fid-inception (random_fid_inception.pth, sha256" in out and "NOT comparable" in out
    assert cli.main(["train", "pix2pix", "--dataset", "demo-paired", "--run-dir", str(run_dir), "--steps", "5",
                     "--checkpoint-every", "1", "--sample-every", "0", "--no-progress"]) == 0
    kept = sorted(int(p.stem.split("-")[1]) for p in (run_dir / "checkpoints").glob("ckpt-*.index"))
    assert kept == [1, 2, 3, 4, 5]  # the resumed run remembers --keep-checkpoints 0


def test_all_checkpoints_reports_the_best_apart_from_the_final_one(tmp_path, capsys):
    run_dir = tmp_path / "p2p"
    config = pix2pix.Config(image_size=32, ngf=4, ndf=4, batch_size=4, lr=0.05, seed=3)
    trainer = pix2pix.Trainer(config, steps_per_epoch=100)
    dataset_fn, _ = training_data(config)
    training.fit(trainer, dataset_fn, run_dir, total_steps=4, steps_per_epoch=100, checkpoint_every=1,
                 sample_every=0, log_every=0, progress=False, keep_checkpoints=None)
    capsys.readouterr()
    assert cli.main(["evaluate", "--run-dir", str(run_dir), "--dataset", "demo-paired", "--metrics", "psnr,l1",
                     "--all-checkpoints", "--max-images", "8"]) == 0
    out = capsys.readouterr().out
    report = json.loads((run_dir / "eval" / "history_step_4.json").read_text())
    steps = [entry["step"] for entry in report["checkpoints"]]
    assert steps == [1, 2, 3, 4] and report["final"]["step"] == 4 and report["step"] == 4
    psnr = {entry["step"]: entry["results"]["AtoB"]["psnr"] for entry in report["checkpoints"]}
    l1 = {entry["step"]: entry["results"]["AtoB"]["l1"] for entry in report["checkpoints"]}
    assert len(set(psnr.values())) == 4  # the checkpoints differ, so "best" is a real choice
    assert report["best"]["AtoB"]["psnr"] == {"step": max(psnr, key=psnr.get), "value": max(psnr.values()),
                                              "checkpoint": report["best"]["AtoB"]["psnr"]["checkpoint"]}
    assert report["best"]["AtoB"]["l1"]["step"] == min(l1, key=l1.get)
    assert report["results"] == report["final"]["results"]
    assert f"AtoB psnr: best {max(psnr.values()):.4f} at step {max(psnr, key=psnr.get)}, final" in out


def training_data(config):
    from tfgan_translate import runs

    return runs.training_dataset_fn("pix2pix", "demo-paired", config)


def test_inception_weights_is_the_keras_network_and_is_not_mixed_with_fid_weights(tmp_path, capsys):
    run_dir = tmp_path / "p2p"
    common = ["evaluate", "--run-dir", str(run_dir), "--dataset", "demo-paired", "--metrics", "fid"]
    assert cli.main([*common, "--inception-weights", "a.h5", "--fid-weights", "b.pth"]) == 2
    assert "older spelling of --fid-weights" in capsys.readouterr().err
    assert cli.main([*common, "--inception-weights", "a.h5", "--fid-network", "fid-inception"]) == 2
    assert "--fid-network fid-inception does not take" in capsys.readouterr().err
