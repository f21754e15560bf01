"""Data flows one way: the import graph of `helpers` (lazy imports inside functions included) has no cycle, and
no module imports one of a higher layer (LAYERS below).

The graph is read from the source with `ast`, so nothing is imported (and no torch is loaded) to check it.
"""
from __future__ import annotations

import ast
from pathlib import Path

HELPERS = Path(__file__).resolve().parents[1] / "helpers"

# The layers of `helpers`, bottom to top: a module may import modules of its own layer or of lower ones (within a
# layer only the cycle test applies). Every module is in exactly one layer: place a new module here.
LAYERS = {
    "I/O and formats": ["_errors", "paths", "device", "extract", "_resumable", "_stamps", "download", "scenes",
                        "formats", "layouts", "vectorfiles", "vectorcache", "theano_compat"],
    "datasets and features": ["features", "embedded", "datasets", "data"],
    "text": ["text", "realdata"],
    "metrics": ["metrics"],
    "plots, widgets, results": ["plots", "widgets", "results", "captioning", "attention", "__main__"],
}
# Upward edges known and accepted, each with its reason; a new one fails the test.
KNOWN_UPWARD = {
    ("features", "widgets"): "widgets.progress, the progress bar of feature extraction",
    ("embedded", "widgets"): "widgets.progress, the progress bar of the dataset build",
}


def import_graph(folder: Path, package: str = "helpers") -> dict:
    """{module: set of the package's modules it imports, at any nesting level}; `__init__` is never a target.

    Counted: `from .x import y`, `from . import x`, `from helpers.x import y`, `from helpers import x`,
    `import helpers.x` (x a module file of the folder).
    """
    modules = {p.stem for p in folder.glob("*.py")}
    graph = {}
    for path in sorted(folder.glob("*.py")):
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1 or node.module == package or (node.module or "").startswith(package + "."):
                    base = (node.module or "") if node.level == 1 else node.module[len(package) + 1:]
                    if base:
                        edges.add(base.split(".")[0])
                    else:  # from . import x / from helpers import x: the names that are modules
                        edges.update(a.name for a in node.names if a.name in modules)
            elif isinstance(node, ast.Import):
                edges.update(a.name.split(".")[1] for a in node.names if a.name.startswith(package + "."))
        graph[path.stem] = (edges & modules) - {path.stem, "__init__"}
    return graph


def cycles(graph: dict) -> list:
    """The strongly connected components with more than one module (each a cycle), sorted (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def reachable(graph: dict, start: str) -> set:
    seen, todo = set(), [start]
    while todo:
        for w in graph.get(todo.pop(), ()):
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def test_the_finder_sees_lazy_and_package_imports(tmp_path):
    (tmp_path / "a.py").write_text("from .b import x\n")
    (tmp_path / "b.py").write_text("def f():\n    if True:\n        from helpers import c\n")
    (tmp_path / "c.py").write_text("import helpers.a\n")
    (tmp_path / "d.py").write_text("from . import a, not_a_module\nimport os\n")
    graph = import_graph(tmp_path)
    assert graph == {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_helpers_has_no_import_cycle():
    graph = import_graph(HELPERS)
    assert {"datasets", "layouts", "embedded", "data", "realdata"} <= set(graph)
    assert cycles(graph) == [], "import cycles in helpers/ (lazy imports count too)"


def test_the_data_front_door_is_not_imported_from_below():
    graph = import_graph(HELPERS)
    for low in ("embedded", "formats", "scenes", "layouts", "download", "paths"):
        assert not reachable(graph, low) & {"datasets", "data", "realdata"}, f"{low} reaches the front door"
    assert "realdata" not in reachable(graph, "datasets"), "the loaders do not need the word-vector module"
    users = {m for m, edges in graph.items() if "data" in edges}
    assert users <= {"__init__", "__main__"}, f"helpers.data is kept for notebooks only; imported by {users}"


def upward_edges(graph: dict, layers: dict) -> list:
    """['a -> b (layer x -> layer y)', ...] for each import of a module of a higher layer."""
    level = {m: i for i, mods in enumerate(layers.values()) for m in mods}
    names = list(layers)
    return sorted(f"{a} -> {b} ({names[level[a]]} -> {names[level[b]]})" for a, edges in graph.items()
                  for b in edges if a in level and b in level and level[b] > level[a])


def test_the_layer_check_sees_an_upward_edge(tmp_path):
    (tmp_path / "a.py").write_text("def f():\n    from .b import g\n")  # a lazy import counts too
    (tmp_path / "b.py").write_text("import os\n")
    graph = import_graph(tmp_path)
    assert upward_edges(graph, {"bottom": ["a"], "top": ["b"]}) == ["a -> b (bottom -> top)"]
    assert upward_edges(graph, {"bottom": ["b"], "top": ["a"]}) == []
    assert upward_edges(graph, {"one layer": ["a", "b"]}) == []


def test_every_module_has_one_layer():
    placed = [m for mods in LAYERS.values() for m in mods]
    assert len(placed) == len(set(placed)), "a module is in two layers"
    modules = set(import_graph(HELPERS)) - {"__init__"}
    unplaced = sorted(modules - set(placed))
    assert not unplaced, f"place these modules in LAYERS (tests/test_imports.py): {unplaced}"
    assert not set(placed) - modules, f"LAYERS names modules that do not exist: {sorted(set(placed) - modules)}"


def test_imports_only_flow_down_the_layers():
    graph = import_graph(HELPERS)
    known = {f"{a} -> {b}" for a, b in KNOWN_UPWARD}
    found = upward_edges(graph, LAYERS)
    new = [e for e in found if e.split(" (")[0] not in known]
    assert not new, "imports from a higher layer (move the code down, or the module up):\n" + "\n".join(new)
    gone = sorted(known - {e.split(" (")[0] for e in found})
    assert not gone, f"KNOWN_UPWARD lists edges that no longer exist: remove {gone}"
