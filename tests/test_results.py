"""What people look at: labelled grids, the run report page, translate's page and grid, the web app."""

import json
import socket

import numpy as np
import pytest
from PIL import Image

from grid_checks import assert_report_complete, referenced_files
from tfgan_translate import cli, cyclegan, families, grids
from tfgan_translate.app import report as run_report


# -- the grid helper ------------------------------------------------------------------------


def test_small_tiles_are_enlarged_by_an_integer_factor_with_their_pixels_intact():
    images = np.random.default_rng(0).uniform(-1, 1, (3, 32, 32, 3)).astype(np.float32)
    grid, layout = grids.labelled_grid({"a": images, "b": -images}, titles=("a", "G(a)"), return_layout=True)
    assert grid.shape[:2] == layout.size[::-1]
    for (row, column), (x0, y0, x1, y1) in layout.tiles.items():
        assert (x1 - x0, y1 - y0) == (128, 128)
        source = grids.as_uint8((images if column == 0 else -images)[row])
        np.testing.assert_array_equal(grid[y0:y1, x0:x1], np.repeat(np.repeat(source, 4, 0), 4, 1))
    assert sorted(layout.tiles) == [(r, c) for r in range(3) for c in range(2)]


def test_tile_sizes_keep_large_images_and_shrink_only_above_max_tile():
    big = np.zeros((256, 200, 3), np.uint8)
    assert grids.tile_image(big).shape == (256, 200, 3)  # at least 128 already: 1:1
    assert grids.tile_image(big, max_tile=128).shape == (128, 100, 3)
    assert grids.tile_image(np.zeros((28, 20, 3), np.uint8)).shape == (140, 100, 3)  # x5: the longer side >= 128
    assert grids.tile_image(np.zeros((28, 20, 3), np.uint8)).shape[0] >= grids.MIN_TILE


def test_titles_are_drawn_above_their_own_column_and_long_ones_are_shortened():
    images = np.zeros((1, 32, 32, 3), np.float32)
    titles = ("a", "G(a)", "a", "a title far too long to fit over one tile of the grid")
    grid, layout = grids.labelled_grid(dict(zip("wxyz", [images] * 4)), titles=titles, return_layout=True)
    header = grid[:layout.tiles[(0, 0)][1]]
    crops = [header[:, x0:x1] for (_, _), (x0, _, x1, _) in sorted(layout.tiles.items())]
    inked = [np.count_nonzero(crop.min(axis=-1) < 128) for crop in crops]
    assert all(inked), "every column has a heading"
    np.testing.assert_array_equal(crops[0], crops[2])  # the same title, drawn the same
    assert inked[1] > inked[0]  # "G(a)" has more ink than "a"
    assert layout.titles[3][0].endswith("...") and len(layout.titles[3][0]) < len(titles[3])
    assert np.all(header[:, :layout.tiles[(0, 0)][0] - 1] == 255)  # nothing spills left of the first column


def test_row_titles_channels_and_bit_depths():
    gray = np.full((2, 16, 16, 1), 0.0, np.float32)
    deep = np.full((2, 16, 16, 3), 65535, np.uint16)
    four = np.zeros((2, 16, 16, 4), np.float32)
    grid, layout = grids.labelled_grid({"g": gray, "d": deep, "f": four}, row_titles=["class 0", "class 1"],
                                       return_layout=True)
    x0, y0, x1, y1 = layout.tiles[(0, 0)]
    assert np.all(grid[y0:y1, x0:x1] == 128)  # gray 0.0 -> 128 on all three channels
    x0, y0, x1, y1 = layout.tiles[(1, 1)]
    assert np.all(grid[y0:y1, x0:x1] == 255)  # 16-bit white stays white
    assert [text for text, _ in layout.row_titles] == ["class 0", "class 1"]
    assert layout.tiles[(0, 0)][0] > 40  # the row headings have a band of their own
    with pytest.raises(ValueError, match="2 titles for 3 columns"):
        grids.labelled_grid({"g": gray, "d": deep, "f": four}, titles=("a", "b"))


def test_families_declare_readable_titles():
    assert cyclegan.FAMILY.grid_titles(cyclegan.FAMILY.columns(cyclegan.Config())) == (
        "a", "G(a)", "F(G(a))", "b", "F(b)", "G(F(b))")
    assert families.get("pix2pix").grid_titles(("input", "translation", "target")) == ("input x", "G(x)", "target y")
    cgan = families.get("cgan")
    assert cgan.grid_rows(cgan.config())[:2] == ("class 0", "class 1")


# -- a tiny trained run: report, translate pages, the app ----------------------------------


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A CycleGAN run of 4 steps with scalars, two sample grids, an evaluation and an export."""
    run = tmp_path_factory.mktemp("results") / "run"
    assert cli.main(["train", "cyclegan", "--dataset", "demo-unpaired", "--run-dir", str(run), "--steps", "4",
                     "--image-size", "32", "--ngf", "4", "--ndf", "4", "--n-blocks", "1", "--batch-size", "2",
                     "--sample-every", "2", "--log-every", "1", "--no-progress"]) == 0
    assert cli.main(["evaluate", "--run-dir", str(run), "--dataset", "demo-unpaired", "--direction", "both",
                     "--max-images", "4"]) == 0
    assert cli.main(["export", "--run-dir", str(run), "--output", str(run.parent / "exported")]) == 0
    return run


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Three inputs of odd sizes, one a TIFF (which a browser cannot show)."""
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (37, 53, 3), np.uint8)).save(folder / "wide.png")
    Image.fromarray(rng.integers(0, 255, (60, 41, 3), np.uint8)).save(folder / "tall.jpg")
    Image.fromarray(rng.integers(0, 255, (33, 33, 3), np.uint8)).save(folder / "scan.tif")
    return folder


@pytest.mark.slow
def test_report_shows_samples_curves_evaluation_and_exports(run_dir, capsys):
    page = run_dir / "report.html"
    assert page.exists()  # train wrote it at its end
    assert cli.main(["report", "--run-dir", str(run_dir)]) == 0  # and it is regenerated with the evaluation
    assert_report_complete(page)
    files = {f.resolve() for f in referenced_files(page)}
    assert {(run_dir / "samples" / n).resolve() for n in ("step_0000002.png", "step_0000004.png")} <= files
    assert (run_dir / "report" / "losses.png").resolve() in files
    assert (run_dir / "eval" / "report_step_4_samples.png").resolve() in files
    text = page.read_text()
    for needle in ("psnr", "AtoB", "BtoA", str((run_dir.parent / "exported").resolve()), "lambda_a", "demo-unpaired"):
        assert needle in text, needle
    recorded = json.loads((run_dir / "exports.json").read_text())
    assert set(recorded[0]["generators"]) == {"generator_ab", "generator_ba"}
    assert "keras (" in text and "savedmodel (" in text  # each format with its parity figure
    assert "by <code>tfgan-translate report</code>" in text
    eval_grid = Image.open(run_dir / "eval" / "report_step_4_samples.png")
    assert eval_grid.size[0] > 6 * 128  # input, G(x), target per direction, 128 px tiles


def test_an_unwritable_exports_record_is_a_warning_not_a_failed_export(tmp_path):
    from tfgan_translate.app.report import EXPORTS_FILE, record_export

    (tmp_path / EXPORTS_FILE).mkdir()  # writing the record fails (an OSError, as on a read-only folder)
    messages = []
    assert record_export(tmp_path, tmp_path / "exported", {"generators": {}}, log=messages.append) is None
    assert len(messages) == 1 and "the export is done" in messages[0] and EXPORTS_FILE in messages[0]


def test_report_of_a_folder_that_is_not_a_run_says_so(tmp_path, capsys):
    assert cli.main(["report", "--run-dir", str(tmp_path)]) == 2
    assert "is not a run folder" in capsys.readouterr().err
    assert cli.main(["report", "--run-dir", str(tmp_path / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_spread_keeps_first_and_last():
    assert run_report.spread(list(range(100)), 5) == [0, 25, 50, 74, 99]
    assert run_report.spread([1, 2], 5) == [1, 2]


@pytest.mark.slow
def test_translate_writes_a_page_and_a_grid_and_keeps_them(run_dir, photos, tmp_path, capsys):
    out = tmp_path / "out"
    translate = ["translate", "--run-dir", str(run_dir), "--input", str(photos), "--output", str(out), "--html",
                 "--grid", str(out / "grid.png")]
    assert cli.main(translate) == 0
    page = out / "index.html"
    assert_report_complete(page)
    files = {f.resolve() for f in referenced_files(page)}
    assert {(out / n).resolve() for n in ("wide.png", "tall.png", "scan.png")} <= files
    assert {(photos / n).resolve() for n in ("wide.png", "tall.jpg")} <= files  # linked where they are
    assert (out / "index_inputs" / "scan.png").resolve() in files  # the TIFF gets a PNG preview
    width, height = Image.open(out / "grid.png").size
    assert width >= 2 * 128 and height >= 3 * 128
    before = page.read_text()
    assert cli.main(translate) == 2  # an existing page is not replaced without --overwrite
    assert "index.html already exists" in capsys.readouterr().err
    assert page.read_text() == before
    assert cli.main(["translate", "--run-dir", str(run_dir), "--input", str(photos), "--output", str(tmp_path / "o2"),
                     "--grid", str(tmp_path / "grid.jpg")]) == 2
    assert "--grid must name a .png" in capsys.readouterr().err


# -- the web app -----------------------------------------------------------------------------


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_the_app_translates_an_upload_as_translate_does(run_dir, photos, tmp_path):
    gradio_client = pytest.importorskip("gradio_client")
    from tfgan_translate.app import serve

    out = tmp_path / "translated"
    assert cli.main(["translate", "--run-dir", str(run_dir), "--input", str(photos), "--output", str(out),
                     "--direction", "BtoA"]) == 0
    app, url = serve.launch(run_dir=str(run_dir), port=free_port(), block=False)
    try:
        assert url.startswith("http://127.0.0.1:")
        client = gradio_client.Client(url, verbose=False)
        result = client.predict(gradio_client.handle_file(str(photos / "wide.png")), "BtoA", api_name="/translate")
        np.testing.assert_array_equal(np.asarray(Image.open(result)), np.asarray(Image.open(out / "wide.png")))
        not_an_image = tmp_path / "notes.png"
        not_an_image.write_text("these are notes, not pixels")
        with pytest.raises(Exception, match="notes.png is not an image"):
            client.predict(gradio_client.handle_file(str(not_an_image)), "BtoA", api_name="/translate")
        again = client.predict(gradio_client.handle_file(str(photos / "tall.jpg")), "AtoB", api_name="/translate")
        assert Image.open(again).size == (41, 60)  # still serving, at the input's size
    finally:
        app.close()


@pytest.fixture(scope="module")
def label_run(tmp_path_factory):
    """A pix2pixHD run on label + instance maps with styles (2 steps), and a label map with its
    instance map: a band of every class and two objects of class 4, in ``labels/`` and ``instances/``."""
    from test_pix2pixhd_labels import SMOKE, _flags

    folder = tmp_path_factory.mktemp("label_app")
    run = folder / "run"
    assert cli.main(["train", "pix2pixhd", "--dataset", "demo-labels", "--run-dir", str(run), "--no-progress",
                     "--steps", "2", "--sample-every", "2", *_flags(SMOKE)]) == 0
    labels = np.repeat(np.arange(SMOKE.label_nc, dtype=np.uint8), 7)[None].repeat(30, axis=0)  # 30 x 7*label_nc
    instances = labels.astype(np.uint16)
    labels[4:14, 3:15], instances[4:14, 3:15] = 4, 4001
    labels[17:27, 20:33], instances[17:27, 20:33] = 4, 4002
    for name, array in (("labels", labels), ("instances", instances)):
        (folder / name).mkdir()
        Image.fromarray(array).save(folder / name / "scene.png")
    return run, folder


@pytest.mark.slow
def test_the_app_of_a_label_map_run_translates_as_translate_does_with_chosen_styles(label_run, tmp_path):
    gradio_client = pytest.importorskip("gradio_client")
    from tfgan_translate.app import serve
    from tfgan_translate.families import pix2pixhd_styles

    run, folder = label_run
    label_png, instance_png = folder / "labels" / "scene.png", folder / "instances" / "scene.png"
    counts = {c: len(k) for c, k in pix2pixhd_styles.load_clusters(run / pix2pixhd_styles.CLUSTERS_FILE).items()}
    styles = ", ".join(f"{c}={k - 1}" for c, k in list(counts.items())[:2])  # the last style of two classes
    out = tmp_path / "translated"
    assert cli.main(["translate", "--run-dir", str(run), "--input", str(label_png), "--output", str(out),
                     "--instances", str(folder / "instances"), "--style-seed", "3",
                     *[arg for item in styles.split(", ") for arg in ("--feature-cluster", item)]]) == 0
    expected = np.asarray(Image.open(out / "scene.png"))
    app, url = serve.launch(run_dir=str(run), port=free_port(), block=False)
    try:
        client = gradio_client.Client(url, verbose=False)
        labels, instances = gradio_client.handle_file(str(label_png)), gradio_client.handle_file(str(instance_png))

        def predict(*args):
            return client.predict(*args, api_name="/" + serve.LABELS_API_NAME)

        result = np.asarray(Image.open(predict(labels, instances, 3, styles)))
        assert result.shape == expected.shape == (*np.asarray(Image.open(label_png)).shape, 3)
        np.testing.assert_array_equal(result, expected)
        photo = tmp_path / "photo.png"  # a photo where a label map belongs
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (30, 40, 3), np.uint8)).save(photo)
        with pytest.raises(Exception, match="photo.png is an RGB image"):
            predict(gradio_client.handle_file(str(photo)), instances, 0, "")
        with pytest.raises(Exception, match="this run uses instance maps"):
            predict(labels, None, 0, "")
        unknown = r"styles: feature cluster 4=99: class 4 has (\d+ clusters? \(choose|no clusters)"
        with pytest.raises(Exception, match=unknown):
            predict(labels, instances, 0, "4=99")
        again = np.asarray(Image.open(predict(labels, instances, 3, styles)))  # still serving, the same photo
        np.testing.assert_array_equal(again, expected)
    finally:
        app.close()


def test_serve_refuses_bad_ports_and_listens_on_localhost_by_default(tmp_path, capsys):
    assert cli.main(["serve", "--run-dir", str(tmp_path), "--port", "0"]) == 2
    assert "--port must be between 1 and 65535" in capsys.readouterr().err
    parser = cli.build_parser()
    assert parser.parse_args(["serve", "--model", "m.keras"]).host == "127.0.0.1"
