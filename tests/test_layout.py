"""The package's layers: imports point only downward, and the old module paths still work.

Layers, bottom to top: ``errors, io, metrics, loss`` -> ``sim/`` -> ``data/`` -> ``fit/`` ->
``study/`` -> ``commands/``, ``cli``. Every import statement in ``src/snnfit`` (function-level
ones too) is read with :mod:`ast` and resolved; an import of a higher layer fails the test.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "snnfit"
LAYERS = {"sim": 1, "data": 2, "fit": 3, "study": 4, "commands": 5, "cli": 5, "__main__": 5}


def _layer(module: str) -> int:
    parts = module.split(".")
    if parts[0] != "snnfit" or len(parts) == 1:
        return 0
    return LAYERS.get(parts[1], 0)


def _module_name(path: Path) -> tuple[str, str]:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    is_pkg = parts[-1] == "__init__"
    if is_pkg:
        parts = parts[:-1]
    name = ".".join(parts)
    return name, name if is_pkg else name.rsplit(".", 1)[0]


def _imports(path: Path):
    name, pkg = _module_name(path)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            yield node.lineno, mod, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name, []


def test_imports_point_only_downward():
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        name, _ = _module_name(path)
        own = _layer(name)
        for line, mod, names in _imports(path):
            targets = [mod] + [f"{mod}.{n}" for n in names]
            layer = max((_layer(t) for t in targets if t.startswith("snnfit")), default=0)
            if layer > own:
                bad.append(f"{path.relative_to(SRC)}:{line} imports {mod} (layer {layer} > {own})")
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_no_flat_modules_beyond_the_bottom_layer():
    flat = sorted(p.stem for p in SRC.glob("*.py"))
    assert flat == ["__init__", "__main__", "_compat", "cli", "errors", "io", "loss", "metrics"]


@pytest.mark.parametrize("old", sorted(importlib.import_module("snnfit._compat").MOVED))
def test_old_module_paths_are_the_new_modules(old):
    from snnfit._compat import MOVED

    a = importlib.import_module(old)
    b = importlib.import_module(MOVED[old])
    assert a is b
    assert a.__spec__.name == MOVED[old]


def test_old_submodule_path_is_not_a_second_copy():
    import snnfit.models.adex as old
    import snnfit.sim.models.adex as new

    assert old is new
