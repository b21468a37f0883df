"""The library's modules form layers: a module imports only from its own layer or below, and no
two modules import each other (directly or in a circle). Lazy imports inside functions count."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "advrec"

LAYERS = (
    ("advrec", "advrec.checks", "advrec.seeds", "advrec.distribute", "advrec.data.errors",
     "advrec.data.sources", "advrec.backup"),
    ("advrec.data", "advrec.text"),
    ("advrec.metrics", "advrec.losses", "advrec.optimizers", "advrec.gan_quality"),
    ("advrec.gan", "advrec.engine", "advrec.training", "advrec.models.saving",
     "advrec.models.contract"),
    ("advrec.models",),
    ("advrec.protocol", "advrec.coldstart_protocol", "advrec.experiment", "advrec.augmentation",
     "advrec.diversity", "advrec.attacks"),
    ("advrec.recipes",),
    ("advrec.book", "advrec.__main__"),
)  # fmt: skip
"""Lowest first. A name covers its submodules unless a submodule is listed itself."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    graph = {}
    for path in ROOT.rglob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("advrec"):
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("advrec")}
        graph[_module_name(path)] = found - {_module_name(path)}
    return graph


def layer_of(module: str) -> int:
    best, depth = None, -1
    for index, names in enumerate(LAYERS):
        for name in names:
            covers = module == name or (name != "advrec" and module.startswith(name + "."))
            if covers and name.count(".") > depth:
                best, depth = index, name.count(".")
    if best is None:
        if module == "advrec":
            return 0
        raise AssertionError(f"{module} is in no layer: add it to LAYERS in this test")
    return best


def test_no_module_imports_from_a_higher_layer():
    upward = [
        f"{module} (layer {layer_of(module)}) imports {target} (layer {layer_of(target)})"
        for module, targets in _imports().items()
        for target in targets
        if layer_of(target) > layer_of(module)
    ]
    assert not upward, "\n".join(upward)


def test_there_is_no_import_circle():
    graph = _imports()
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if target not in graph:
                continue
            if state.get(target) == 1:
                return [*path, module, target]
            if state.get(target) is None and (cycle := visit(target, [*path, module])):
                return cycle
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module, [])):
            raise AssertionError("import circle: " + " -> ".join(cycle))
