"""The PyTorch checkpoint converter: exact parity with the reference networks, and its errors.

The reference networks are rebuilt in PyTorch (``torch_reference_nets.py``) with the
published key layout, given random weights and batch-norm statistics, saved with
``torch.save(net.state_dict())``, converted, and run on the same input in eval mode.
"""

import collections
import sys
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from tfgan_translate import cli
from tfgan_translate.convert import (
    ARCH_NAMES,
    CheckpointError,
    ConversionError,
    convert_pytorch_checkpoint,
    convert_state_dict,
    load_state_dict,
)

TOLERANCE = 1e-4
KEYS_FILE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "pytorch-checkpoint-keys.txt"

# name in the keys file -> (converter arch, input channels, (height, width) sizes to compare)
PUBLISHED = {
    "resnet_9blocks": ("resnet_9blocks", 3, [(256, 256), (256, 384)]),
    "resnet_6blocks": ("resnet_6blocks", 3, [(256, 256), (256, 384)]),
    "unet_256": ("unet_256", 3, [(256, 256), (256, 512)]),
    "unet_128": ("unet_128", 3, [(256, 256), (128, 256)]),
    "patchgan_batch_6ch": ("basic", 6, [(256, 256), (256, 384)]),
    "patchgan_instance_3ch": ("basic", 3, [(256, 256), (256, 384)]),
}


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.fixture(scope="module")
def ref(torch):
    import torch_reference_nets

    return torch_reference_nets


@pytest.fixture(scope="module", params=list(PUBLISHED))
def published(request, ref, torch, tmp_path_factory):
    """``(name, torch net, checkpoint path)`` for each of the six published configurations."""
    name = request.param
    net = ref.build(name)
    path = tmp_path_factory.mktemp("published") / f"{name}.pth"
    torch.save(net.state_dict(), path)
    return name, net, path


def torch_forward(torch, net, images):
    """Run the torch net in eval mode on NHWC numpy images, returning NHWC numpy."""
    with torch.no_grad():
        out = net.eval()(torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))))
    return out.numpy().transpose(0, 2, 3, 1)


def random_images(height, width, channels, batch=1, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (batch, height, width, channels)).astype(np.float32)


def assert_same_outputs(torch, net, model, height, width, channels, batch=1):
    images = random_images(height, width, channels, batch)
    expected = torch_forward(torch, net, images)
    actual = keras.ops.convert_to_numpy(model(images, training=False))
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOLERANCE)


def published_keys():
    """``{section: [(key, shape), ...]}`` and ``{section: parameter count}`` from the keys file."""
    if not KEYS_FILE.exists():
        pytest.skip(f"{KEYS_FILE} not found (shared/ lies beside the repository)")
    sections, counts, current = {}, {}, None
    for line in KEYS_FILE.read_text().splitlines():
        if line.startswith("## "):
            current, count = line[3:].split(":")
            sections[current] = []
            counts[current] = int(count.split()[0])
        elif line.strip() and not line.startswith("#"):
            key, shape = line.split(" ", 1)
            sections[current].append((key, tuple(int(d) for d in shape.strip("()").split(",") if d.strip())))
    return sections, counts


# --- the reference layout and exact parity -------------------------------------------------


def test_reference_nets_have_the_published_keys_shapes_and_counts(published):
    """Our torch nets store exactly the published keys: the layout the converter reads is real."""
    name, net, _ = published
    sections, counts = published_keys()
    assert [(k, tuple(v.shape)) for k, v in net.state_dict().items()] == sections[name]
    assert sum(p.numel() for p in net.parameters()) == counts[name]


@pytest.mark.slow
def test_converted_model_matches_reference_outputs(published, torch):
    """Eval-mode outputs agree to 1e-4 at 256x256 and at a non-square size (built-in reader)."""
    name, net, path = published
    arch, channels, sizes = PUBLISHED[name]
    model = convert_pytorch_checkpoint(path, arch, use_torch=False)
    assert model.input_shape == (None, None, None, channels)
    for height, width in sizes:
        assert_same_outputs(torch, net, model, height, width, channels)


def test_torch_and_builtin_readers_agree(published):
    name, _, path = published
    with_torch = load_state_dict(path, use_torch=True)
    builtin = load_state_dict(path, use_torch=False)
    assert list(with_torch) == list(builtin)
    for key in builtin:
        assert builtin[key].dtype == with_torch[key].dtype, key
        np.testing.assert_array_equal(builtin[key], with_torch[key], err_msg=key)


def test_conversion_through_torch_load(ref, torch, tmp_path):
    net = ref.randomize(ref.NLayerDiscriminator(input_nc=6, ndf=16, norm="batch"))
    torch.save(net.state_dict(), tmp_path / "d.pth")
    model = convert_pytorch_checkpoint(tmp_path / "d.pth", "basic", use_torch=True)
    assert_same_outputs(torch, net, model, 128, 96, 6, batch=2)


@pytest.mark.parametrize(
    "make,arch,channels,size",
    [
        (lambda r: r.ResnetGenerator(ngf=8, n_blocks=6, norm="batch"), "resnet_6blocks", 3, (64, 48)),
        (lambda r: r.ResnetGenerator(ngf=8, n_blocks=6, use_dropout=True), "resnet_6blocks", 3, (32, 32)),
        (lambda r: r.ResnetGenerator(input_nc=1, output_nc=2, ngf=8, n_blocks=9), "resnet_9blocks", 1, (32, 64)),
        (lambda r: r.UnetGenerator(ngf=8, num_downs=7, norm="instance"), "unet_128", 3, (128, 128)),
        (lambda r: r.NLayerDiscriminator(ndf=8, n_layers=2, norm="instance"), "n_layers_2", 3, (64, 80)),
        (lambda r: r.NLayerDiscriminator(input_nc=6, ndf=8, n_layers=5), "n_layers_5", 6, (256, 256)),
        (lambda r: r.PixelDiscriminator(ndf=8), "pixel", 3, (16, 24)),
    ],
    ids=["resnet_batchnorm", "resnet_dropout", "resnet_1to2_channels", "unet_instancenorm", "n_layers_2",
         "n_layers_5", "pixel"],
)
def test_other_settings_are_read_from_the_checkpoint(ref, torch, tmp_path, make, arch, channels, size):
    """Norm, channels, width and dropout come from the checkpoint (small nets, batch of 2)."""
    net = ref.randomize(make(ref))
    torch.save(net.state_dict(), tmp_path / "net.pth")
    model = convert_pytorch_checkpoint(tmp_path / "net.pth", arch, use_torch=False)
    assert_same_outputs(torch, net, model, *size, channels, batch=2)


def test_fixed_input_shape(ref, torch, tmp_path):
    net = ref.randomize(ref.NLayerDiscriminator(ndf=8))
    torch.save(net.state_dict(), tmp_path / "d.pth")
    model = convert_pytorch_checkpoint(tmp_path / "d.pth", "basic", input_shape=(70, 70, 3))
    assert model.output_shape == (None, 6, 6, 1)
    with pytest.raises(ConversionError, match=r"input_shape must be \(height, width, 3\)"):
        convert_pytorch_checkpoint(tmp_path / "d.pth", "basic", input_shape=(70, 70, 6), input_nc=3)


# A real torch.save file kept in the repository, so the built-in reader is tested on one even
# where torch is not installed: NLayerDiscriminator(input_nc=3, ndf=2, n_layers=1, norm="batch")
# from torch_reference_nets, randomize(seed=5), saved by torch 2.13; the .npz holds an input
# batch (2, 16, 12, 3) and the torch eval-mode logits for it.
TINY = Path(__file__).parent / "data" / "tiny_n_layers_1.pth"
TINY_IO = Path(__file__).parent / "data" / "tiny_n_layers_1_io.npz"


def test_stored_checkpoint_converts_without_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    model = convert_pytorch_checkpoint(TINY, "n_layers_1")
    io = np.load(TINY_IO)
    logits = keras.ops.convert_to_numpy(model(io["images"]))
    np.testing.assert_allclose(logits, io["logits"], rtol=0, atol=1e-5)


def test_stored_checkpoint_is_what_torch_computes(ref, torch):
    """Guards the stored files above: torch still reads them and gives the stored logits."""
    net = ref.NLayerDiscriminator(input_nc=3, ndf=2, n_layers=1, norm="batch")
    net.load_state_dict(torch.load(TINY, weights_only=True))
    io = np.load(TINY_IO)
    np.testing.assert_allclose(torch_forward(torch, net, io["images"]), io["logits"], rtol=0, atol=1e-6)


# --- what older or unusual checkpoints carry ------------------------------------------------


def small_resnet(ref):
    return ref.randomize(ref.ResnetGenerator(ngf=8, n_blocks=6))


def test_old_instance_norm_running_stats_are_ignored(ref, torch, tmp_path):
    """Older checkpoints store running stats for InstanceNorm layers; they are skipped."""
    net = small_resnet(ref)
    state = collections.OrderedDict()
    for name, module in net.named_modules():
        for key, value in module.state_dict(prefix=f"{name}.", keep_vars=False).items():
            if key.count(".") == name.count(".") + 1:  # this module's own entries
                state[key] = value
        if isinstance(module, torch.nn.InstanceNorm2d):
            state[f"{name}.running_mean"] = torch.randn(module.num_features)
            state[f"{name}.running_var"] = torch.rand(module.num_features) + 0.5
            state[f"{name}.num_batches_tracked"] = torch.tensor(7)
    assert "model.2.running_var" in state
    torch.save(state, tmp_path / "old.pth")
    model = convert_pytorch_checkpoint(tmp_path / "old.pth", "resnet_6blocks", use_torch=False)
    assert_same_outputs(torch, net, model, 32, 32, 3)


def test_data_parallel_prefix_is_stripped(ref, torch, tmp_path):
    net = small_resnet(ref)
    torch.save(torch.nn.DataParallel(net).state_dict(), tmp_path / "dp.pth")
    assert next(iter(torch.load(tmp_path / "dp.pth"))).startswith("module.")
    for use_torch in (True, False):
        state = load_state_dict(tmp_path / "dp.pth", use_torch=use_torch)
        assert list(state) == list(net.state_dict())
    model = convert_pytorch_checkpoint(tmp_path / "dp.pth", "resnet_6blocks")
    assert_same_outputs(torch, net, model, 32, 32, 3)


def test_half_precision_checkpoint_converts_to_float32(ref, torch, tmp_path):
    net = ref.randomize(ref.NLayerDiscriminator(ndf=8))
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in net.state_dict().items()}, tmp_path / "h.pth")
    state = load_state_dict(tmp_path / "h.pth", use_torch=False)
    assert state["model.0.weight"].dtype == np.float32
    np.testing.assert_array_equal(state["model.0.weight"], net.state_dict()["model.0.weight"].half().float().numpy())
    net.half().float()  # the weights the file holds
    assert_same_outputs(torch, net, convert_state_dict(state, "basic"), 64, 64, 3)


def test_builtin_reader_handles_dtypes_views_and_shared_storage(torch, tmp_path):
    base = torch.randn(4, 6)
    tensors = {
        "float": base,
        "transposed": base.t(),  # non-contiguous
        "offset": base[1:, 2:],  # storage offset, shares base's storage
        "half": torch.randn(3, 2).half(),
        "bfloat16": torch.randn(5).bfloat16(),
        "double": torch.randn(2, 2, dtype=torch.float64),
        "count": torch.tensor(12345678901),
        "flags": torch.tensor([True, False]),
        "empty": torch.zeros(0, 3),
    }
    torch.save(tensors, tmp_path / "odd.pth")
    builtin = load_state_dict(tmp_path / "odd.pth", use_torch=False)
    with_torch = load_state_dict(tmp_path / "odd.pth", use_torch=True)
    assert list(builtin) == list(tensors)
    for key in tensors:
        assert builtin[key].dtype == with_torch[key].dtype, key
        np.testing.assert_array_equal(builtin[key], with_torch[key], err_msg=key)
    assert builtin["count"].dtype == np.int64 and builtin["count"] == 12345678901


def test_builtin_reader_is_chosen_without_torch(ref, torch, tmp_path, monkeypatch):
    net = ref.randomize(ref.NLayerDiscriminator(ndf=8))
    torch.save(net.state_dict(), tmp_path / "d.pth")
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    state = load_state_dict(tmp_path / "d.pth")
    assert list(state) == list(net.state_dict())
    with pytest.raises(CheckpointError, match=r"torch is not installed: pip install"):
        load_state_dict(tmp_path / "d.pth", use_torch=True)


# --- errors ------------------------------------------------------------------------------


def test_truncated_file_is_reported(ref, torch, tmp_path):
    torch.save(small_resnet(ref).state_dict(), tmp_path / "full.pth")
    data = (tmp_path / "full.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    for use_torch in (None, False):
        with pytest.raises(CheckpointError, match=r"cut\.pth: .*truncated"):
            convert_pytorch_checkpoint(tmp_path / "cut.pth", "resnet_6blocks", use_torch=use_torch)


def test_short_storage_is_reported(ref, torch, tmp_path):
    """A zip whose storage lost bytes (but whose directory is intact) names the storage."""
    torch.save(small_resnet(ref).state_dict(), tmp_path / "full.pth")
    with zipfile.ZipFile(tmp_path / "full.pth") as source, zipfile.ZipFile(tmp_path / "short.pth", "w") as target:
        for info in source.infolist():
            data = source.read(info)
            target.writestr(info, data[:-8] if info.filename.endswith("/data/0") else data)
    with pytest.raises(CheckpointError, match=r"short\.pth: storage .*data/0 holds \d+ bytes but .*truncated or corrupt"):
        load_state_dict(tmp_path / "short.pth", use_torch=False)


@pytest.mark.parametrize(
    "content,message",
    [(b"", "the file is empty"), (b"not a checkpoint\n", "not a PyTorch checkpoint")],
    ids=["empty", "text"],
)
def test_non_checkpoints_are_reported(tmp_path, content, message):
    (tmp_path / "bad.pth").write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        load_state_dict(tmp_path / "bad.pth", use_torch=False)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(CheckpointError, match=r"nothere\.pth: no such file"):
        load_state_dict(tmp_path / "nothere.pth")


def test_legacy_format_is_read_without_torch(ref, torch, tmp_path):
    """torch < 1.6's pickle stream (how many published weights were saved): the built-in reader
    gives what torch.load gives, and a truncated file is named as such."""
    net = ref.randomize(ref.NLayerDiscriminator(ndf=8))
    path = tmp_path / "legacy.pth"
    torch.save(net.state_dict(), path, _use_new_zipfile_serialization=False)
    ours, theirs = load_state_dict(path, use_torch=False), load_state_dict(path, use_torch=True)
    assert list(ours) == list(theirs)
    for key in ours:
        np.testing.assert_array_equal(ours[key], theirs[key])
    model = convert_pytorch_checkpoint(path, "basic", use_torch=False)
    assert_same_outputs(torch, net, model, 64, 64, 3)
    (tmp_path / "cut.pth").write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match=r"cut\.pth: storage .*truncated"):
        load_state_dict(tmp_path / "cut.pth", use_torch=False)


def test_legacy_format_refuses_code_in_its_header_and_storage_list(torch, tmp_path, capsys):
    """The plain pickles around the state_dict (magic number, version, system info, storage keys)
    are read as restrictively as the state_dict itself."""
    import pickle

    good = tmp_path / "good.pth"
    torch.save({"weight": torch.zeros(2)}, good, _use_new_zipfile_serialization=False)
    (tmp_path / "header.pth").write_bytes(pickle.dumps(_Sneaky(), protocol=2) + good.read_bytes())
    with pytest.raises(CheckpointError, match=r"header\.pth: the file's header refers to .*print.*Refusing"):
        load_state_dict(tmp_path / "header.pth", use_torch=False)
    raw = good.read_bytes()
    start = raw.rindex(b"\x80\x02]")  # the storage-key list: the last pickle, before the raw bytes
    end = raw.index(b"a.", start) + 2
    (tmp_path / "keys.pth").write_bytes(raw[:start] + pickle.dumps(_Sneaky(), protocol=2) + raw[end:])
    with pytest.raises(CheckpointError, match=r"keys\.pth: the file's header refers to .*print"):
        load_state_dict(tmp_path / "keys.pth", use_torch=False)
    assert "must never run" not in capsys.readouterr().out
    (tmp_path / "short.pth").write_bytes(raw[:len(raw) // 3])
    with pytest.raises(CheckpointError, match="truncated"):
        load_state_dict(tmp_path / "short.pth", use_torch=False)


def test_legacy_format_refuses_other_pickled_objects(torch, tmp_path, capsys):
    torch.save({"weight": torch.zeros(2), "extra": _Sneaky()}, tmp_path / "sneaky.pth",
               _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match=r"refers to (__builtin__|builtins)\.print.*refusing"):
        load_state_dict(tmp_path / "sneaky.pth", use_torch=False)
    assert "must never run" not in capsys.readouterr().out


class _Sneaky:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_builtin_reader_refuses_other_pickled_objects(torch, tmp_path, capsys):
    torch.save({"weight": torch.zeros(2), "extra": _Sneaky()}, tmp_path / "sneaky.pth")
    with pytest.raises(CheckpointError, match=r"refers to (__builtin__|builtins)\.print.*refusing"):
        load_state_dict(tmp_path / "sneaky.pth", use_torch=False)
    assert "must never run" not in capsys.readouterr().out


def test_non_tensor_entries_are_reported(torch, tmp_path):
    torch.save({"epoch": 3, "weight": torch.zeros(2)}, tmp_path / "train.pth")
    with pytest.raises(CheckpointError, match=r"entry 'epoch' is a int, not a tensor"):
        load_state_dict(tmp_path / "train.pth", use_torch=False)
    torch.save([torch.zeros(2)], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match=r"holds a list, not a state_dict"):
        load_state_dict(tmp_path / "list.pth")


def test_wrong_arch_names_the_first_key_that_does_not_fit(ref, torch, tmp_path):
    torch.save(small_resnet(ref).state_dict(), tmp_path / "r6.pth")
    with pytest.raises(ConversionError, match=r"r6\.pth as resnet_9blocks .*key 'model\.16\.weight' .*--arch"):
        convert_pytorch_checkpoint(tmp_path / "r6.pth", "resnet_9blocks")
    unet = ref.randomize(ref.UnetGenerator(ngf=8, num_downs=7))
    torch.save(unet.state_dict(), tmp_path / "unet.pth")
    with pytest.raises(ConversionError, match=r"key 'model\.model\.0\.weight' .*no place"):
        convert_pytorch_checkpoint(tmp_path / "unet.pth", "resnet_9blocks")
    innermost_up_of_unet_128 = r"model\.model\.1" + r"\.model\.3" * 5 + r"\.model\.3\.weight"
    with pytest.raises(ConversionError, match=rf"unet\.pth as unet_256 .*key '{innermost_up_of_unet_128}' .*no place"):
        convert_pytorch_checkpoint(tmp_path / "unet.pth", "unet_256")


def test_shape_mismatch_names_key_and_both_shapes(ref, torch, tmp_path):
    net = ref.randomize(ref.NLayerDiscriminator(input_nc=6, ndf=8))
    torch.save(net.state_dict(), tmp_path / "d6.pth")
    expected = r"key 'model\.0\.weight' has shape \(8, 6, 4, 4\) but the model expects \(8, 3, 4, 4\) .*'conv1'.*--input-nc"
    with pytest.raises(ConversionError, match=expected):
        convert_pytorch_checkpoint(tmp_path / "d6.pth", "basic", input_nc=3)
    with pytest.raises(ConversionError, match=r"key 'model\.3\.weight' .*no place.*--norm"):
        convert_pytorch_checkpoint(tmp_path / "d6.pth", "basic", norm="instance")


def test_missing_key_is_named(ref, torch, tmp_path):
    state = small_resnet(ref).state_dict()
    del state["model.13.conv_block.5.bias"]
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(ConversionError, match=r"no key 'model\.13\.conv_block\.5\.bias'"):
        convert_pytorch_checkpoint(tmp_path / "partial.pth", "resnet_6blocks")


def test_unknown_arch_and_norm(tmp_path):
    with pytest.raises(ConversionError, match=r"unknown arch 'resnet_7blocks'; choose one of resnet_9blocks"):
        convert_state_dict({}, "resnet_7blocks")
    with pytest.raises(ConversionError, match=r"norm must be one of batch, instance, got 'none'"):
        convert_state_dict({}, "basic", norm="none")


# --- command line ---------------------------------------------------------------------------


def test_cli_convert_writes_a_model_that_loads_and_matches(ref, torch, tmp_path, capsys):
    import tfgan_translate.layers  # noqa: F401  (registers our custom layers for loading)

    net = small_resnet(ref)
    torch.save(net.state_dict(), tmp_path / "g.pth")
    output = tmp_path / "out" / "g.keras"
    argv = ["convert", "--from-pytorch", str(tmp_path / "g.pth"), "--arch", "resnet_6blocks", "--output", str(output)]
    assert cli.main(argv + ["--no-torch"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert_same_outputs(torch, net, keras.models.load_model(output), 32, 48, 3)

    assert cli.main(argv) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert cli.main(argv + ["--overwrite"]) == 0


def test_cli_reports_problems_in_one_line(ref, torch, tmp_path, capsys):
    torch.save(small_resnet(ref).state_dict(), tmp_path / "g.pth")
    base = ["convert", "--from-pytorch", str(tmp_path / "g.pth")]
    assert cli.main(base + ["--arch", "resnet_9blocks", "--output", str(tmp_path / "g.keras")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tfgan-translate convert: error: ") and err.count("\n") == 1 and "model.16.weight" in err
    assert cli.main(base + ["--arch", "resnet_6blocks", "--output", str(tmp_path / "g.h5")]) == 2
    assert "must end in .keras" in capsys.readouterr().err
    assert not (tmp_path / "g.keras").exists()


def test_cli_help_lists_every_arch():
    parser = cli.build_parser()
    convert = parser._subparsers._group_actions[0].choices["convert"]
    text = " ".join(convert.format_help().split())
    for name in ARCH_NAMES:
        assert name in text


def test_translate_works_on_a_converted_model(ref, torch, tmp_path, capsys):
    """``tfgan-translate translate --model`` gives the reference's image, to one grey level."""
    from PIL import Image

    net = small_resnet(ref)
    torch.save(net.state_dict(), tmp_path / "g.pth")
    assert cli.main(["convert", "--from-pytorch", str(tmp_path / "g.pth"), "--arch", "resnet_6blocks",
                     "--output", str(tmp_path / "g.keras")]) == 0
    pixels = np.random.default_rng(3).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    (tmp_path / "in").mkdir()
    Image.fromarray(pixels).save(tmp_path / "in" / "photo.png")
    argv = ["translate", "--model", str(tmp_path / "g.keras"), "--input", str(tmp_path / "in"),
            "--output", str(tmp_path / "out")]
    assert cli.main(argv) == 0, capsys.readouterr().err
    translated = np.asarray(Image.open(tmp_path / "out" / "photo.png")).astype(int)
    expected = torch_forward(torch, net, pixels[None].astype(np.float32) / 127.5 - 1)[0]
    expected = np.round((expected + 1) * 127.5).astype(int)
    assert np.abs(translated - expected).max() <= 1
