"""The package's import graph, read from the source (every import, module level and inside functions).

Used by tests/unit/test_architecture.py, and runnable to print the figures quoted in docs/architecture.md:

    .venv/bin/python -m tests.architecture
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "workbench"

#: The floors, bottom up. A module may import its own floor and the floors below, never one above.
FLOORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("workbench._keras", "workbench.catalog", "workbench.devices", "workbench.errors", "workbench.files",
              "workbench.model_config", "workbench.model_shapes",
              "workbench.model_files", "workbench.notebook_files", "workbench.paths", "workbench.provenance",
              "workbench.quiet")),
    ("spec", ("workbench.spec",)),
    ("inputs and runtimes", ("workbench.data", "workbench.images", "workbench.fit", "workbench.models", "workbench.tflite_model", "workbench.runtime_model",
                             "workbench.profile", "workbench.tracking")),
    ("techniques", ("workbench.compress", "workbench.convert", "workbench.baseline", "workbench.analysis",
                    "workbench.runtimes")),
    ("one variant", ("workbench.variant", "workbench.pipeline")),
    ("views", ("workbench.views",)),
    ("orchestration", ("workbench.run",)),
    ("entry points", ("workbench.cli", "workbench")),
)


def modules(package_dir: Path = PACKAGE_DIR) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imported_names(path: Path) -> list[str]:
    """Every absolute module name an import statement in ``path`` mentions (``from a import b`` gives a.b)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [f"{node.module}.{a.name}" for a in node.names] or [node.module]
    return names


def graph(mods: dict[str, Path] | None = None) -> dict[str, set[str]]:
    """module -> the package modules it imports (the nearest existing module of each imported name)."""
    mods = mods or modules()
    out: dict[str, set[str]] = {m: set() for m in mods}
    for m, path in mods.items():
        for name in imported_names(path):
            while name and name not in mods:
                name = name.rpartition(".")[0]
            if name and name != m and not m.startswith(name + "."):  # a package's own __init__ is not an edge
                out[m].add(name)
    return out


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for v in sorted(g):
        if v not in index:
            visit(v)
    return found


def floor(module: str) -> int:
    """The floor index of ``module`` (the longest matching prefix); KeyError for an unplaced module."""
    best = (-1, -1)
    for i, (_, prefixes) in enumerate(FLOORS):
        for p in prefixes:
            if module == p or module.startswith(p + "."):
                best = max(best, (len(p), i))
    if best[1] < 0:
        raise KeyError(module)
    return best[1]


def uphill(g: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports from a lower floor to a higher one."""
    return sorted((a, b) for a, targets in g.items() for b in targets if floor(b) > floor(a))


def summary() -> dict[str, object]:
    mods = modules()
    g = graph(mods)
    top = sorted(m for m, p in mods.items() if p.parent == PACKAGE_DIR and p.name != "__init__.py")
    sizes = sorted(((len(p.read_text().splitlines()), m) for m, p in mods.items()), reverse=True)
    return {"modules": len(mods), "top_level_modules": top, "cycles": cycles(g), "uphill": uphill(g),
            "largest": sizes[:3]}


if __name__ == "__main__":
    s = summary()
    print(f"modules: {s['modules']}")
    print(f"top-level modules ({len(s['top_level_modules'])}): {', '.join(s['top_level_modules'])}")  # type: ignore[arg-type]
    print(f"circles: {len(s['cycles'])} {s['cycles']}")  # type: ignore[arg-type]
    print(f"uphill imports: {len(s['uphill'])} {s['uphill']}")  # type: ignore[arg-type]
    print(f"largest modules (lines): {s['largest']}")
