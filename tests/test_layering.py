"""Import layering: no module of bounds/, empirical/, figures/ or paper_repro.py imports from a layer above its
own, and the import graph has no cycle.

The graph is read with ``ast`` (no module is imported): every ``import`` and ``from ... import`` anywhere in a
file (module level and inside functions), relative imports resolved. ``from pkg import name`` is an edge to
the submodule ``pkg.name`` when there is one, else to ``pkg`` itself. The layers, bottom to top, follow the data
flow text -> teacher -> students -> measurements -> tables -> verdicts -> figures -> commands.

The checker is tested on planted graphs and on a planted package on disk, so a broken checker cannot pass.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: bottom to top; a module belongs to the longest prefix listed and may import only its own layer or lower ones
LAYERS = (
    "bounds",               # symbolic theory, fits, the report: no torch
    "empirical",            # the package itself (docstring only) ...
    "empirical.config",     # ... and the run configs every layer speaks (dataclasses + content hash)
    "empirical.runtime",    # device, CUDA settings, AdamW, weight-file loading
    "empirical.cache",      # content-addressed result store, per-key locks
    "empirical.data",       # text: corpus and disjoint splits
    "empirical.models",     # teacher decoder, LRC student
    "empirical.synthetic",  # the linear track (teacher, students and measurements in closed form)
    "empirical.training",   # losses, measurements, teacher training, distillation, data parallel
    "empirical.mi",         # MI estimators and the activation-cloning experiment
    "empirical.real",       # the pretrained MiniLM teacher
    "empirical.perf",       # FLOP counts and MFU of the training steps
    "empirical.sweep",      # presets -> plan -> runners -> store; executors
    "figures",              # one module per figure
    "empirical.commands",   # torch-side lrkd subcommands
    "paper_repro",          # the lrkd dispatcher and the repro pipeline
)

#: upward edges allowed on purpose, each with its reason
ALLOWED_UPWARD = {
    ("bounds.spectrum_io", "empirical.runtime.weights_io"):
        "lazy, only for a user's .pt file: the one torch loader stays on the torch side",
}


def discover(root: Path, packages=("bounds", "empirical", "figures"), modules=("paper_repro",)) -> dict[str, Path]:
    """{dotted module name: file} of every .py file under ``packages`` and the top-level ``modules``."""
    found = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    for name in modules:
        if (root / f"{name}.py").exists():
            found[name] = root / f"{name}.py"
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of ``known`` that module ``name`` (file ``path``) imports anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                targets.add(sub if sub in known else module)
    edges = set()
    for target in targets:
        while target and target not in known:  # a name inside a module, or an outside package
            target = target.rpartition(".")[0]
        if target and target != name:
            edges.add(target)
    return edges


def import_graph(root: Path, **kw) -> dict[str, set[str]]:
    mods = discover(root, **kw)
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (or a self-loop): Tarjan's algorithm."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
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
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def layer_of(module: str, layers=LAYERS) -> int | None:
    """Index of the longest entry of ``layers`` that is ``module`` or a package above it."""
    best = None
    for i, prefix in enumerate(layers):
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > len(layers[best]):
                best = i
    return best


def upward_imports(graph: dict[str, set[str]], layers=LAYERS, allowed=()) -> list[str]:
    """Every edge from a module to a module of a higher layer, as 'a (layer) -> b (layer)'."""
    bad = []
    for src, targets in sorted(graph.items()):
        for dst in sorted(targets):
            ls, ld = layer_of(src, layers), layer_of(dst, layers)
            if ls is not None and ld is not None and ld > ls and (src, dst) not in allowed:
                bad.append(f"{src} ({layers[ls]}) -> {dst} ({layers[ld]})")
    return bad


# ------------------------------------------------------------------------------------------- the code base

@pytest.fixture(scope="module")
def graph():
    return import_graph(ROOT)


def test_every_module_has_a_layer(graph):
    assert [m for m in graph if layer_of(m) is None] == []


def test_no_import_cycle(graph):
    assert find_cycles(graph) == []


def test_no_upward_import(graph):
    assert upward_imports(graph, allowed=ALLOWED_UPWARD) == []


def test_allowed_exceptions_are_still_needed(graph):
    for src, dst in ALLOWED_UPWARD:
        assert dst in graph[src], f"{src} no longer imports {dst}: drop the exception"


def test_sweep_path_goes_down_once():
    """run_sweep's modules in order: the run -> the runner adapter -> training -> the store, each once."""
    g = import_graph(ROOT)
    assert "empirical.sweep.runners" in g["empirical.sweep.run"]
    assert "empirical.training.distill" in g["empirical.sweep.runners"]
    assert "empirical.cache.store" in g["empirical.training.distill"]
    for low in ("empirical.training.distill", "empirical.cache.store", "empirical.cache.locking"):
        assert not any(m.startswith("empirical.sweep") for m in g[low])


# ------------------------------------------------------------------------------------------- the checker itself

def test_checker_finds_planted_cycles_and_upward_edges():
    g = {"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "b": {"a.x"}, "c": {"c"}}
    assert find_cycles(g) == [["a.x", "a.y", "a.z"], ["c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []
    layers = ("a", "b")
    assert upward_imports({"a.x": {"b"}, "b": {"a.x"}}, layers) == ["a.x (a) -> b (b)"]
    assert upward_imports({"a.x": {"b"}}, layers, allowed={("a.x", "b")}) == []


def test_checker_reads_a_planted_package(tmp_path):
    """A package on disk whose modules import each other in a circle, one of them inside a function and one
    relatively, and a low module importing a high one: both are found."""
    pkg = tmp_path / "bounds"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""planted"""\n')
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from bounds.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from .c import g\n")
    (pkg / "sub" / "c.py").write_text("import bounds.a\n\ndef g():\n    from figures import top\n")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "__init__.py").write_text("")
    (tmp_path / "figures" / "top.py").write_text("")
    g = import_graph(tmp_path, packages=("bounds", "figures"), modules=())
    assert g["bounds.sub.b"] == {"bounds.sub.c"}
    assert find_cycles(g) == [["bounds.a", "bounds.sub.b", "bounds.sub.c"]]
    assert upward_imports(g) == ["bounds.sub.c (bounds) -> figures.top (figures)"]
