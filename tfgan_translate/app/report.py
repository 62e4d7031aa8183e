"""A run's report page: ``RUN/report.html``, one page a person can open or share without a server.

It shows the config and what the run trained on, the loss curves drawn from the TensorBoard
scalars the loop logged (matplotlib, written to ``RUN/report/``), the sample grids over the
steps, the evaluation reports (``RUN/eval/*.json``) with their sample grids, and the exported
models (``RUN/exports.json``, which ``export`` appends to, and exports inside the run folder).
Images are referenced by paths relative to the page, so the run folder can be copied or
zipped as a whole and still shows every picture.

Example:
    >>> from tfgan_translate.app import report
    >>> report.write_report("checkpoints/demo/cyclegan")  # doctest: +SKIP
    PosixPath('checkpoints/demo/cyclegan/report.html')
"""

import datetime
import html
import json
import math
import os
from pathlib import Path

REPORT_FILE = "report.html"
FIGURES_DIR = "report"  # the page's own figures (loss curves), beside it
EXPORTS_FILE = "exports.json"
MAX_GRIDS = 12  # sample grids shown: evenly spread over the run, the newest always among them


def read_scalars(log_dir):
    """``{tag: [(step, value), ...]}`` from the TensorBoard event files under ``log_dir``
    (sorted by step; a step logged twice, e.g. after a resume, keeps its last value)."""
    import tensorflow as tf

    series = {}
    for path in sorted(Path(log_dir).rglob("events.out.tfevents.*")):
        try:
            for record in tf.data.TFRecordDataset(str(path)):
                event = tf.compat.v1.Event.FromString(record.numpy())
                for value in event.summary.value:
                    if value.HasField("simple_value"):
                        number = value.simple_value
                    elif value.HasField("tensor") and value.metadata.plugin_data.plugin_name == "scalars":
                        number = float(tf.make_ndarray(value.tensor))
                    else:
                        continue
                    series.setdefault(value.tag, {})[int(event.step)] = number
        except tf.errors.DataLossError:  # a file cut short by a crash: keep what was read
            continue
    return {tag: sorted(points.items()) for tag, points in sorted(series.items())}


def plot_scalars(series, path, title):
    """One small plot per tag (losses share a figure), written as a PNG; ``None`` when nothing to plot."""
    if not series:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import pyplot as plt

    columns = min(3, len(series))
    rows = math.ceil(len(series) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 2.8 * rows), squeeze=False)
    for axis, (tag, points) in zip(axes.flat, series.items()):
        steps, values = zip(*points)
        axis.plot(steps, values, linewidth=1.2, marker="o" if len(points) < 12 else None, markersize=3)
        axis.set_title(tag, fontsize=10)
        axis.set_xlabel("step", fontsize=8)
        axis.tick_params(labelsize=8)
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(series):]:
        axis.axis("off")
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def spread(items, count):
    """At most ``count`` of ``items``, evenly spread, always with the first and the last."""
    if len(items) <= count:
        return list(items)
    picks = {round(i * (len(items) - 1) / (count - 1)) for i in range(count)}
    return [items[i] for i in sorted(picks)]


def _read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def record_export(run_dir, output, info, log=print):
    """Append an export (its folder and ``export.json`` contents) to ``RUN/exports.json``; a run
    folder that cannot be written (read-only, a full disk) only costs the report its entry, said
    in one line: the export itself is done. Returns the path, or ``None`` when it was not written."""
    path = Path(run_dir) / EXPORTS_FILE
    records = _read_json(path) if path.exists() else []
    records = [r for r in (records or []) if r.get("path") != str(output)]
    records.append({"path": str(output), "written": datetime.datetime.now().isoformat(timespec="seconds"), **info})
    try:
        path.write_text(json.dumps(records, indent=2) + "\n")
    except OSError as error:
        log(f"warning: the export is done, but {path} could not be written ({error.strerror or error}); "
            "the run's report will not list it")
        return None
    return path


def _exports(run_dir):
    """Exports of this run: recorded ones, and ``export.json`` files inside the run folder."""
    found = {}
    for record in _read_json(run_dir / EXPORTS_FILE) or []:
        if isinstance(record, dict) and "path" in record:
            found[str(record["path"])] = record
    for info_path in sorted(run_dir.glob("*/export.json")):
        info = _read_json(info_path) or {}
        found.setdefault(str(info_path.parent), {"path": str(info_path.parent), **info})
    return list(found.values())


class _Page:
    """HTML written section by section; every image source is checked to exist."""

    def __init__(self, base):
        self.base, self.parts = base, []

    def add(self, text):
        self.parts.append(text)

    def heading(self, text, level=2):
        self.add(f"<h{level}>{html.escape(text)}</h{level}>")

    def image(self, path, caption):
        path = Path(path)
        if not path.is_file():
            return
        source = Path(os.path.relpath(path.resolve(), self.base.resolve())).as_posix()
        self.add(f'<figure><a href="{html.escape(source)}"><img src="{html.escape(source)}" '
                 f'alt="{html.escape(caption)}"></a><figcaption>{html.escape(caption)}</figcaption></figure>')

    def table(self, header, rows):
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(c))}</td>" for c in row) + "</tr>" for row in rows)
        self.add(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _cell(value):
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:.2f}"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else str(value)


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .5em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
figure { margin: 1em 0; } figure img { max-width: 100%; image-rendering: pixelated; border: 1px solid #eee; }
figcaption { font-size: .85em; color: #555; } .muted { color: #777; }
"""


def _config_section(page, saved):
    """The config fields and the data record of ``saved`` (``read_run_file``'s triple or ``None``)."""
    page.heading("Config")
    if saved is None:
        page.add('<p class="muted">No config.json in this folder.</p>')
        return
    _, fields, data_record = saved
    page.table(("field", "value"), sorted(fields.items()))
    if data_record:
        page.heading("Data", 3)
        page.table(("field", "value"), sorted(data_record.items()))


def _evaluation_section(page, run_dir):
    reports = sorted((run_dir / "eval").glob("*.json"), key=lambda p: p.stat().st_mtime)
    if not reports:
        page.add('<p class="muted">No evaluation yet (<code>tfgan-translate evaluate --run-dir RUN --dataset ...'
                 "</code> writes RUN/eval/report_step_N.json).</p>")
        return
    for path in reports:
        report = _read_json(path)
        if not isinstance(report, dict) or not isinstance(report.get("results"), dict):
            continue
        page.heading(f"{path.name}: step {report.get('step')} on {report.get('dataset')} ({report.get('split')})", 3)
        results = report["results"]
        metrics = list(dict.fromkeys(m for values in results.values() for m in values))
        page.table(("direction", *metrics), [(d, *(v.get(m) for m in metrics)) for d, v in results.items()])
        if isinstance(report.get("best"), dict):
            rows = [(d, m, b.get("step"), b.get("value")) for d, per in report["best"].items()
                    for m, b in per.items() if isinstance(b, dict)]
            if rows:
                page.add("<p>Best checkpoint per metric:</p>")
                page.table(("direction", "metric", "step", "value"), rows)
        described = report.get("inception")
        if isinstance(described, dict):
            from .evaluation import features_line

            page.add(f"<p class='muted'>{html.escape(features_line(described))}</p>")
        samples = path.with_name(f"{path.stem}_samples.png")
        page.image(samples, f"held-out samples of {path.name}")


def _exports_section(page, run_dir):
    exports = _exports(run_dir)
    if not exports:
        page.add('<p class="muted">Not exported yet (<code>tfgan-translate export --run-dir RUN --output DIR</code>).</p>')
        return
    rows = []
    for record in exports:
        generators = record.get("generators") if isinstance(record.get("generators"), dict) else {}
        for name, info in generators.items() or [("", {})]:
            info = info if isinstance(info, dict) else {}
            files = info.get("files") or {}
            formats = ", ".join(f"{fmt} ({entry.get('max_abs_error', float('nan')):.1g})" for fmt, entry in files.items()
                                if isinstance(entry, dict))
            rows.append((record["path"], name, formats, info.get("channels_in"), info.get("channels_out"),
                         info.get("size_multiple"), "present" if Path(record["path"]).exists() else "missing",
                         record.get("written", "")))
    page.table(("folder", "generator", "formats (max difference to Keras)", "channels in", "channels out",
                "size multiple", "on disk", "written"), rows)


def write_report(run_dir, output=None, writer="tfgan-translate report"):
    """Write ``RUN/report.html`` (or ``output``) for the run folder ``run_dir``; returns its path.

    The loss curves are drawn into ``RUN/report/``; everything else the page shows is linked
    from where the run keeps it. Safe to call again: the page and its figures are regenerated.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"--run-dir {run_dir}: no such folder")
    if not (run_dir / "config.json").exists() and not (run_dir / "samples").is_dir():
        raise ValueError(f"--run-dir {run_dir} is not a run folder (no config.json, no samples/); give the folder "
                         "that train wrote")
    from ..training.config import read_run_file

    saved = read_run_file(run_dir)  # a damaged config.json: ValueError naming it
    output = Path(output) if output else run_dir / REPORT_FILE
    page = _Page(output.parent)
    grids = sorted((run_dir / "samples").glob("step_*.png"))
    page.heading(f"Samples ({len(grids)} grids" + (f", {MAX_GRIDS} shown" if len(grids) > MAX_GRIDS else "") + ")")
    for path in reversed(spread(grids, MAX_GRIDS)):  # the newest first
        page.image(path, f"step {int(path.stem.split('_')[-1])}")
    if not grids:
        page.add('<p class="muted">No sample grid yet.</p>')
    scalars = read_scalars(run_dir / "logs") if (run_dir / "logs").is_dir() else {}
    losses = {t: p for t, p in scalars.items() if not t.startswith("eval/") and t != "images_per_second"}
    evals = {t: p for t, p in scalars.items() if t.startswith("eval/")}
    page.heading("Training curves")
    figures = run_dir / FIGURES_DIR
    drawn = [plot_scalars(losses, figures / "losses.png", "losses"),
             plot_scalars(evals, figures / "evaluation.png", "held-out evaluation during training"),
             plot_scalars({t: p for t, p in scalars.items() if t == "images_per_second"}, figures / "speed.png",
                          "images per second")]
    for path, caption in zip(drawn, ("losses (TensorBoard scalars)", "evaluation during training", "speed")):
        if path is not None:
            page.image(path, caption)
    if not any(drawn):
        page.add('<p class="muted">No scalars logged (train with --log-every N > 0).</p>')
    page.heading("Evaluation")
    _evaluation_section(page, run_dir)
    page.heading("Exports")
    _exports_section(page, run_dir)
    _config_section(page, saved)
    steps = [int(p.stem.split("_")[-1]) for p in grids]
    family = saved[0] if saved else "run"
    title = f"{family}: {run_dir.resolve().name}"
    summary = (f"<p>Run folder <code>{html.escape(str(run_dir.resolve()))}</code>"
               + (f", samples up to step {max(steps)}" if steps else "")
               + f". Written {datetime.datetime.now().isoformat(timespec='seconds')} by "
               f"<code>{html.escape(writer)}</code>.</p>")
    document = ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
                f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>\n"
                f"<h1>{html.escape(title)}</h1>\n{summary}\n" + "\n".join(page.parts) + "\n</body></html>\n")
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_name(output.name + ".tmp")
    temporary.write_text(document, encoding="utf-8")
    temporary.replace(output)
    return output


BROWSER_IMAGES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp"}


def write_translation_page(pairs, output_dir, title="translations"):
    """``output_dir/index.html``: a row per ``(input path, output path)`` pair, input beside output,
    like the reference project's test page. Inputs a browser cannot show (TIFF) get a PNG preview
    in ``output_dir/index_inputs/`` (N-channel TIFF outputs in ``index_outputs/``); the others are
    linked where they are. Returns the page's path."""
    from PIL import Image

    from .image_files import preview

    output_dir = Path(output_dir)
    page = _Page(output_dir)
    rows = []
    for source, translated in pairs:
        source, translated = Path(source), Path(translated)
        shown = []
        for path, previews in ((source, "index_inputs"), (translated, "index_outputs")):
            if path.suffix.lower() not in BROWSER_IMAGES:  # TIFF inputs and N-channel outputs
                (output_dir / previews).mkdir(parents=True, exist_ok=True)
                shown_as = output_dir / previews / f"{translated.stem}.png"
                Image.fromarray(preview(path)).save(shown_as)
                path = shown_as
            shown.append(path)
        cells = []
        for path in shown:
            link = html.escape(Path(os.path.relpath(path.resolve(), output_dir.resolve())).as_posix())
            cells.append(f'<td><a href="{link}"><img src="{link}" alt="{html.escape(path.name)}"></a></td>')
        rows.append(f"<tr><td>{html.escape(source.name)}</td>{''.join(cells)}</tr>")
    page.add("<table class='pairs'><thead><tr><th>file</th><th>input</th><th>output</th></tr></thead><tbody>"
             + "".join(rows) + "</tbody></table>")
    style = STYLE + ".pairs img { max-width: 512px; max-height: 512px; }"
    document = ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
                f"<title>{html.escape(title)}</title><style>{style}</style></head><body>\n"
                f"<h1>{html.escape(title)}</h1>\n" + "\n".join(page.parts) + "\n</body></html>\n")
    path = output_dir / "index.html"
    path.write_text(document, encoding="utf-8")
    return path
