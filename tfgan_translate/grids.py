"""Labelled image grids for people: one column per image kind with its title, one row per example.

Training (PNG samples and TensorBoard), ``evaluate``, ``translate --grid``, the run report, the
README pictures and the notebooks all draw their grids here, so they look alike. Small images
are enlarged by an integer factor with nearest-neighbour sampling, so a 32 px training image
becomes a 128 px tile whose pixels are still the model's pixels (no interpolation invents
detail); images larger than ``max_tile`` (when given) are shrunk to fit it.
"""

import dataclasses
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

MIN_TILE = 128  # the smallest tile a person can judge a translation at
GAP = 4  # white pixels between tiles
BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)


def as_uint8(image):
    """One image, ``(H, W, C)`` or ``(H, W)``, as uint8 RGB: floats are read as [-1, 1], integers
    as 8-bit (uint8) or 16-bit (uint16) levels; one channel becomes gray and more than three keep
    the first three."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3:
        raise ValueError(f"a grid cell must be an (H, W, C) image, got shape {array.shape}")
    if array.dtype == np.uint16:
        array = (array.astype(np.float64) / 257.0 + 0.5).astype(np.uint8)
    elif array.dtype != np.uint8:
        array = np.clip((array.astype(np.float64) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    if array.shape[-1] in (1, 2):
        array = np.repeat(array[..., :1], 3, axis=-1)
    return np.ascontiguousarray(array[..., :3])


def tile_image(image, min_tile=MIN_TILE, max_tile=None):
    """``image`` (uint8 RGB) at the size it is shown: enlarged by the smallest integer factor that
    brings its longer side to ``min_tile`` (nearest neighbour), or shrunk to fit ``max_tile``."""
    height, width = image.shape[:2]
    longer = max(height, width)
    if max_tile is not None and longer > max_tile:
        scale = max_tile / longer
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))
    factor = max(1, math.ceil(min_tile / longer))
    if factor == 1:
        return image
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def _font(size):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _text_size(draw, text, font):
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return right - left, bottom - top


def _cells(columns):
    """``[(title, [image, ...])]`` from ``{title: batch or list of images}``."""
    cells = []
    for title, images in columns.items():
        if hasattr(images, "numpy"):
            images = images.numpy()
        cells.append((str(title), [as_uint8(image) for image in images]))
    return cells


@dataclasses.dataclass
class GridLayout:
    """Where :func:`labelled_grid` puts things: the canvas size, each tile's box
    ``(left, top, right, bottom)`` by ``(row, column)``, and each heading's text and anchor."""

    size: tuple  # (width, height)
    tiles: dict  # (row, column) -> box of the tile's pixels
    titles: list  # [(text, (x, y))], one per column
    row_titles: list  # [(text, (x, y))], one per row (empty without row titles)


def labelled_grid(columns, titles=None, row_titles=None, min_tile=MIN_TILE, max_tile=None, max_rows=None,
                  return_layout=False):
    """The grid as a uint8 ``(H, W, 3)`` array (and its :class:`GridLayout` with ``return_layout``).

    Args:
        columns: ``{key: images}``, left to right; ``images`` is a ``(B, H, W, C)`` batch (floats in
            [-1, 1], or uint8/uint16 levels) or a list of images, which may differ in size.
        titles: the column headings (default: the keys), e.g. ``("a", "G(a)", "F(G(a))")``.
        row_titles: a heading per row (e.g. the class of a conditional sample), or ``None``.
        min_tile, max_tile: the tile size bounds (see :func:`tile_image`).
        max_rows: show at most this many rows (examples).
    """
    cells = _cells(columns)
    if not cells:
        raise ValueError("a grid needs at least one column")
    titles = [title for title, _ in cells] if titles is None else [str(t) for t in titles]
    if len(titles) != len(cells):
        raise ValueError(f"{len(titles)} titles for {len(cells)} columns")
    rows = max(len(images) for _, images in cells)
    if max_rows is not None:
        rows = min(rows, max_rows)
    tiles = [[tile_image(images[r], min_tile, max_tile) if r < len(images) else None for r in range(rows)]
             for _, images in cells]
    tile_h = max(t.shape[0] for column in tiles for t in column if t is not None)
    tile_w = max(t.shape[1] for column in tiles for t in column if t is not None)
    font = _font(max(11, min(18, tile_w // 9)))
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    header = max(_text_size(draw, t, font)[1] for t in titles) + 2 * GAP + 2
    row_labels = [str(t) for t in row_titles[:rows]] if row_titles is not None else []
    left = (max(_text_size(draw, t, font)[0] for t in row_labels) + 3 * GAP) if row_labels else GAP
    layout = GridLayout((left + len(cells) * (tile_w + GAP), header + rows * (tile_h + GAP)), {}, [], [])
    for c, (title, column) in enumerate(zip(titles, tiles)):
        x0 = left + c * (tile_w + GAP)
        text = _fit_text(draw, title, font, tile_w)
        layout.titles.append((text, (x0 + (tile_w - _text_size(draw, text, font)[0]) // 2, GAP)))
        for r, tile in enumerate(column):
            if tile is not None:
                x, y = x0 + (tile_w - tile.shape[1]) // 2, header + r * (tile_h + GAP) + (tile_h - tile.shape[0]) // 2
                layout.tiles[(r, c)] = (x, y, x + tile.shape[1], y + tile.shape[0])
    for r, label in enumerate(row_labels):
        layout.row_titles.append((label, (GAP, header + r * (tile_h + GAP) + (tile_h - _text_size(draw, label, font)[1]) // 2)))
    canvas = Image.new("RGB", layout.size, BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    for (r, c), box in layout.tiles.items():
        canvas.paste(Image.fromarray(tiles[c][r]), box[:2])
    for text, anchor in layout.titles + layout.row_titles:
        draw.text(anchor, text, fill=INK, font=font)
    grid = np.asarray(canvas)
    return (grid, layout) if return_layout else grid


def _fit_text(draw, text, font, width):
    """``text``, shortened with an ellipsis until it fits ``width`` pixels."""
    if _text_size(draw, text, font)[0] <= width:
        return text
    while len(text) > 1 and _text_size(draw, text + "...", font)[0] > width:
        text = text[:-1]
    return text + "..."


def save_labelled_grid(columns, path, **options):
    """Write :func:`labelled_grid` ``(columns, **options)`` as a PNG at ``path`` (its folder is created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(labelled_grid(columns, **options)).save(path)
    return path
