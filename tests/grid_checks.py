"""What a sample grid PNG and a report page must look like, for the tests of the commands that write them."""

from PIL import Image

from tfgan_translate import grids


def assert_grid_shape(path, columns, rows, tile, row_titles=False):
    """``path`` is a labelled grid of ``columns`` x ``rows`` tiles of ``tile`` px (at least
    ``grids.MIN_TILE``), with a heading band on top and, with ``row_titles``, a label band at the left."""
    assert tile >= grids.MIN_TILE
    width, height = Image.open(path).size
    body_w, body_h = columns * (tile + grids.GAP), rows * (tile + grids.GAP)
    if row_titles:
        assert body_w + 3 * grids.GAP < width < body_w + 200, (width, body_w)
    else:
        assert width == body_w + grids.GAP, (width, body_w)
    assert body_h + 10 < height < body_h + 40, (height, body_h)  # the heading band: one line of text


def referenced_files(page):
    """The local files an HTML page's ``src``/``href`` attributes name, resolved from its folder."""
    import html
    import re
    from pathlib import Path

    page = Path(page)
    names = [html.unescape(m) for m in re.findall(r'(?:src|href)="([^"]+)"', page.read_text())]
    return [page.parent / name for name in names if "://" not in name and not name.startswith(("#", "data:"))]


def assert_report_complete(page):
    """``page`` exists, shows at least one image, and every file it refers to is present."""
    files = referenced_files(page)
    assert any(f.suffix == ".png" for f in files), f"{page} shows no image"
    missing = [str(f) for f in files if not f.is_file()]
    assert not missing, f"{page} refers to missing files: {missing}"
