"""Old module paths kept importable after the package was split into layers.

Until the layered layout (``sim/``, ``data/``, ``fit/``, ``study/``), every module sat at the
top of the package: ``snnfit.simulate``, ``snnfit.grad``, ``snnfit.targets``, ... Users' scripts
import those names, so ``import snnfit.simulate`` still works: a meta-path finder answers the
old name with the module at its new place (the same module object, not a copy).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

#: old module name -> its place in the layered package
MOVED = {
    "snnfit.params": "snnfit.sim.params",
    "snnfit.protocol": "snnfit.sim.protocol",
    "snnfit.models": "snnfit.sim.models",
    "snnfit.simulate": "snnfit.sim.simulate",
    "snnfit.search": "snnfit.sim.search",
    "snnfit.grad": "snnfit.sim.grad",
    "snnfit.bench": "snnfit.sim.bench",
    "snnfit.targets": "snnfit.data.targets",
    "snnfit.inputs": "snnfit.data.inputs",
    "snnfit.space": "snnfit.fit.space",
    "snnfit.fitio": "snnfit.fit.record",
    "snnfit.frontend": "snnfit.fit.frontend",
    "snnfit.energy": "snnfit.fit.energy",
    "snnfit.optimizers": "snnfit.fit.optimizers",
    "snnfit.figures": "snnfit.study.figures",
    "snnfit.plotting": "snnfit.study.plotting",
}


def new_name(name: str) -> str | None:
    """The layered name of an old module name (submodules too), or None."""
    for old, new in MOVED.items():
        if name == old or name.startswith(old + "."):
            return new + name[len(old):]
    return None


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if new_name(name) is None:
            return None
        return importlib.util.spec_from_loader(name, self)

    def create_module(self, spec):
        module = importlib.import_module(new_name(spec.name))
        self._real_spec = module.__spec__
        return module

    def exec_module(self, module):
        module.__spec__ = self._real_spec  # the import system set the alias's spec; restore


def install() -> None:
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())
