"""The package's layers, read from its imports: library code never imports a family or the
application, a family never imports the application (every import counts, also those inside
functions), and no family hook is looked up by name."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tfgan_translate"
LIBRARY = ("grids", "layers", "losses", "perceptual", "networks", "data", "training", "metrics", "convert", "native_output")
LAYER = {**{name: 0 for name in LIBRARY}, "families": 1, "app": 2}


def module_name(path, root=PACKAGE):
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path, root=PACKAGE):
    """Absolute names of the ``tfgan_translate`` modules ``path`` imports (relative ones resolved)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module
            names.append(prefix)
            names += [f"{prefix}.{alias.name}" for alias in node.names]
    return [n for n in names if n.split(".")[0] == "tfgan_translate"]


def layer_of(name):
    """0 library, 1 families, 2 application; ``None`` for the package root itself."""
    parts = name.split(".")
    return LAYER.get(parts[1]) if len(parts) > 1 else None


def python_files():
    """Every module but the package root's entry points (``__init__``: lazy aliases; ``__main__``: the CLI)."""
    return sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE or p.name not in ("__init__.py", "__main__.py"))


@pytest.mark.parametrize("path", python_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_layer_above_its_own(path):
    own = layer_of(module_name(path))
    assert own is not None, f"{path} is outside the library, families/ and app/ folders"
    above = [name for name in imported_modules(path) if (layer_of(name) or 0) > own]
    assert not above, f"{module_name(path)} (layer {own}) imports {above}"


def test_the_layering_check_sees_relative_imports_inside_functions(tmp_path):
    """The checker itself: a function-level ``from ..app import runs`` in a family is resolved
    to ``tfgan_translate.app.runs``, a layer above the family's."""
    root = tmp_path / "tfgan_translate"
    (root / "families").mkdir(parents=True)
    fake = root / "families" / "fake.py"
    fake.write_text("from .base import Trainer\n\ndef f():\n    from ..app import runs\n    import tfgan_translate.data\n")
    names = imported_modules(fake, root)
    assert "tfgan_translate.app.runs" in names and "tfgan_translate.families.base" in names
    assert "tfgan_translate.data" in names
    assert [n for n in names if layer_of(n) == 2] and layer_of(module_name(fake, root)) == 1


def test_no_family_names_or_hooks_outside_the_families():
    """Shared code finds generators from the declarations, never by name prefix or attribute probe."""
    offenders = []
    for path in python_files():
        text = path.read_text()
        for needle in ('startswith("generator")', "hasattr(module", "PAIRED =", "GENERATIVE =", "FAMILIES ="):
            if needle in text:
                offenders.append(f"{path.relative_to(PACKAGE)}: {needle}")
    assert not offenders
