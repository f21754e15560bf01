"""Data flows one way: the import graph of `helpers` (lazy imports inside functions included) has no cycle,
and every module imports only from the layers below its own (`LAYERS`).

The graph is read from the source with `ast`, so nothing is imported (and no torch is loaded) to check it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

HELPERS = Path(__file__).resolve().parents[1] / "helpers"

# The layers of `helpers`, bottom to top: a module may import only from layers BELOW its own (not from its
# own layer, not from above). A new module goes into the lowest layer above everything it imports.
# `__init__` (lazy re-exports) is not a layer: it may name any module.
LAYERS = [
    # the ground: errors of getting data, where things are kept, the static/live switch and progress bars,
    # devices and threads, safe unpacking, scene truth (the atlas, objects, relations; no torch), folding BN
    ["_errors", "_checks", "paths", "progress", "device", "extract", "scene_truth", "_older_names", "folding"],
    ["_resumable", "formats_core", "scenes", "theano_compat", "array_cache"],  # resumable HTTP; dataset
    # structures; scenes drawn, rendered and captioned; arrays cached as .npz
    ["_stamps", "caption_formats", "class_formats", "grammar"],  # checksum stamps and locks; the readers of
    # each format; caption words
    ["formats", "registry"],  # all the readers under one name; the registry of datasets (registry.toml)
    ["layout_detection"],  # which layout a dataset folder has
    ["layouts", "vectorfiles", "vectorcache", "weights"],  # reading a folder's splits; word vectors; weights
    ["dataset_status"],  # what of a dataset is in the cache
    ["download", "text"],  # fetch (download, verify, unpack); tokens, vocabularies, word vectors
    ["features", "batching", "decoding", "checkpoints", "metrics"],  # image features; caption batches, decoders,
    # checkpoints; retrieval metrics and BLEU
    ["embedded", "caption_metrics"],  # the book's own dataset (built with features); the human ceiling, semantic
    # scores, attention-in-box
    ["inspection"],  # what a dataset folder or file holds, checked and counted
    ["datasets"],  # THE data front door
    ["data", "realdata", "plots", "results"],  # older names of the front door; figures; recorded metrics
    ["widgets"],  # live controls (they draw with plots)
    ["__main__"],  # the command line
    # older chapter-named modules: aliases that fetch each name from its home by name (importlib), on use
    ["search", "devise", "captioning", "attention"],
]


# Modules that must import without torch (a reader of dataset files must not need a GPU stack).
TORCH_FREE = [
    "formats",
    "formats_core",
    "caption_formats",
    "class_formats",
    "scenes",
    "scene_truth",
    "grammar",
    "registry",
    "download",
    "extract",
    "layouts",
    "layout_detection",
    "dataset_status",
    "array_cache",
    "progress",
]


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
                    base = (node.module or "") if node.level == 1 else node.module[len(package) + 1 :]
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


def layer_violations(graph: dict, layers: list) -> list:
    """Messages for each import that does not go strictly down `layers`, and for each module in no layer."""
    level = {m: i for i, names in enumerate(layers) for m in names}
    out = [
        f"helpers/{m}.py is in no layer: add it to LAYERS in tests/test_imports.py (the lowest layer above "
        f"everything it imports: {sorted(graph[m])})"
        for m in sorted(graph)
        if m != "__init__" and m not in level
    ]
    for m, edges in sorted(graph.items()):
        for dep in sorted(edges):
            if m in level and dep in level and level[dep] >= level[m]:
                where = "its own layer" if level[dep] == level[m] else "a layer above"
                out.append(
                    f"{m} (layer {level[m]}) imports {dep} from {where} (layer {level[dep]}): move the code "
                    "down, or pass it in"
                )
    return out


def test_the_layer_check_catches_an_upward_import(tmp_path):
    (tmp_path / "low.py").write_text("def f():\n    from .high import g\n")  # lazy, and upward
    (tmp_path / "high.py").write_text("from .low import f\n")
    (tmp_path / "new.py").write_text("from . import low\n")
    problems = layer_violations(import_graph(tmp_path), [["low"], ["high"]])
    assert len(problems) == 2, problems
    assert "new.py is in no layer: add it to LAYERS" in problems[0]
    assert problems[1].startswith("low (layer 0) imports high from a layer above (layer 1)")
    assert layer_violations({"a": {"b"}, "b": set()}, [["a", "b"]])[0].startswith("a (layer 0) imports b from its own")
    assert layer_violations(import_graph(tmp_path), [["low"], ["high", "new"]]) == [problems[1]]


def test_helpers_imports_only_downward():
    problems = layer_violations(import_graph(HELPERS), LAYERS)
    assert not problems, "\n".join(problems)
    names = [m for layer in LAYERS for m in layer]
    assert len(names) == len(set(names)), "a module is in two layers"


@pytest.mark.parametrize("module", TORCH_FREE)
def test_reading_dataset_files_needs_no_torch(module):
    """`import helpers.<module>` in a fresh interpreter where torch cannot be imported: it must work, and load
    neither torch nor the package's torch-using modules (`helpers/__init__` is lazy)."""
    code = (
        "import sys\nsys.modules['torch'] = None\n"  # any `import torch` now raises ImportError
        f"import helpers.{module}\nimport helpers\nhelpers.CaptionData, helpers.formats.read_coco_captions\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'matplotlib') and "
        "sys.modules[m] is not None))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=HELPERS.parent)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]", out.stdout
