"""The package's shape (issue 11): imports point one way between units; modules and functions stay small.

Pure ``ast``: nothing under ``workbench/`` is imported, so a unit that fails to import still gets checked.
Every import counts, lazy ones inside functions and ``if TYPE_CHECKING:`` ones included, and so does
``importlib.import_module("workbench.…")`` with a literal name. (The stage registry in ``rundir`` imports
stages by computed name on purpose: that is how earlier units reach later producers, see CONTRIBUTING.)
"""

from __future__ import annotations

import ast
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "workbench"

# A unit may import only units to its left.
ORDER = [
    "data", "rundir", "report", "engine", "features", "privacy", "segment", "explain", "fairness", "dynamics",
    "value", "campaign", "statement", "compare", "pipeline", "scoring", "cli",
]
# Top-level modules that are not in ORDER, and where they stand: ``workbench/__init__.py`` re-exports
# ``open_run`` (so importing the bare ``workbench`` pulls in pipeline); ``notebooks.py`` is a
# maintenance script that no unit imports.
ROOT = "workbench"
EXTRA_RANKS = {ROOT: ORDER.index("pipeline") + 0.5, "notebooks": len(ORDER), "__main__": len(ORDER)}

MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
# "workbench/<path>.py" -> why it may stay long. Starts empty; an entry needs a reason.
ALLOW_LONG_MODULES: dict[str, str] = {}
# "workbench/<path>.py::<qualified name>" -> why it may stay long.
ALLOW_LONG_FUNCTIONS: dict[str, str] = {}


# -- reading the package ---------------------------------------------------------------------------
def _modules(package: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file under ``package``."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = [package.name, *path.relative_to(package).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _unit(module: str) -> str:
    """``workbench.fairness._rates`` -> ``fairness``; the package itself -> ``workbench``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def _imported(module: str, path: Path, known: set[str]):
    """Yield ``(target module, line)`` for every import of the package in one module's source."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    root = module.split(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == root:
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base.split(".")[0] != root:
                continue
            for alias in node.names:
                # ``from .. import fairness`` imports the submodule; ``from ..data import load`` a name.
                candidate = f"{base}.{alias.name}"
                yield (candidate if candidate in known else base), node.lineno
        elif isinstance(node, ast.Call) and _is_import_call(node):
            name = node.args[0].value
            if name.split(".")[0] == root:
                yield name, node.lineno


def _is_import_call(node: ast.Call) -> bool:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return (
        name in {"import_module", "__import__"}
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    )


@lru_cache(maxsize=None)  # parsed once per package, shared by the checks
def _edges(package: Path) -> dict[tuple[str, str], list[str]]:
    """``(importing unit, imported unit)`` -> where (``file:line``), across units only."""
    modules = _modules(package)
    known = set(modules)
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for module, path in modules.items():
        for target, line in _imported(module, path, known):
            src, dst = _unit(module), _unit(target)
            if src != dst:
                edges[(src, dst)].append(f"{path.relative_to(package.parent)}:{line}")
    return edges


def _ranks() -> dict[str, float]:
    return {**{name: i for i, name in enumerate(ORDER)}, **EXTRA_RANKS}


def _cycles(edges) -> list[list[str]]:
    """Strongly connected groups of more than one unit (Tarjan)."""
    graph = defaultdict(set)
    for src, dst in edges:
        graph[src].add(dst)
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def _functions(tree: ast.AST, prefix: str = ""):
    """Yield ``(qualified name, node)`` for every function and method, nested ones included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + node.name, node
            yield from _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        else:
            yield from _functions(node, prefix)


@lru_cache(maxsize=None)  # parsed once per package, shared by the checks
def _long_modules(package: Path) -> dict[str, int]:
    out = {}
    for path in _modules(package).values():
        lines = len(path.read_text().splitlines())
        if lines > MAX_MODULE_LINES:
            out[str(path.relative_to(package.parent))] = lines
    return out


@lru_cache(maxsize=None)  # parsed once per package, shared by the checks
def _long_functions(package: Path) -> dict[str, int]:
    out = {}
    for path in _modules(package).values():
        tree = ast.parse(path.read_text(), filename=str(path))
        for name, node in _functions(tree):
            # From ``def`` to the last line of the body, less the docstring: numpydoc docstrings
            # are the user guide and may be long; the rule is about code a reader must hold at once.
            lines = node.end_lineno - node.lineno + 1
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant) \
                    and isinstance(first.value.value, str):
                lines -= first.end_lineno - first.lineno + 1
            if lines > MAX_FUNCTION_LINES:
                out[f"{path.relative_to(package.parent)}::{name}"] = lines
    return out


# -- the rules ----------------------------------------------------------------------------------------
def check_units_are_placed(package: Path) -> list[str]:
    units = {_unit(m) for m in _modules(package)}
    return [f"{u}: a new top-level unit; give it its place in ORDER" for u in sorted(units - set(_ranks()))]


def check_no_cycles(package: Path) -> list[str]:
    edges = _edges(package)
    problems = []
    for group in _cycles(edges):
        arrows = [f"{s} -> {d} ({edges[(s, d)][0]})" for s, d in sorted(edges) if s in group and d in group]
        problems.append(f"import cycle between {', '.join(group)}: " + "; ".join(arrows))
    return problems


def check_arrows_point_left(package: Path) -> list[str]:
    ranks = _ranks()
    problems = []
    for (src, dst), where in sorted(_edges(package).items()):
        if src in ranks and dst in ranks and ranks[dst] >= ranks[src]:
            problems.append(f"{src} imports {dst}, which stands to its right: {', '.join(where)}")
    return problems


def check_sizes(package: Path) -> list[str]:
    problems = [
        f"{name}: {n} lines (at most {MAX_MODULE_LINES})"
        for name, n in sorted(_long_modules(package).items()) if name not in ALLOW_LONG_MODULES
    ]
    problems += [
        f"{name}: {n} lines (at most {MAX_FUNCTION_LINES})"
        for name, n in sorted(_long_functions(package).items()) if name not in ALLOW_LONG_FUNCTIONS
    ]
    return problems


def test_every_top_level_unit_has_a_place_in_the_order():
    assert not check_units_are_placed(PACKAGE), "\n".join(check_units_are_placed(PACKAGE))


def test_no_import_cycle_between_units():
    problems = check_no_cycles(PACKAGE)
    assert not problems, "\n".join(problems)


def test_imports_point_only_left():
    problems = check_arrows_point_left(PACKAGE)
    assert not problems, "\n".join(problems)


def test_modules_and_functions_stay_small():
    problems = check_sizes(PACKAGE)
    assert not problems, "\n".join(problems)


def test_allow_lists_hold_no_stale_entry():
    stale = [name for name in ALLOW_LONG_MODULES if name not in _long_modules(PACKAGE)]
    stale += [name for name in ALLOW_LONG_FUNCTIONS if name not in _long_functions(PACKAGE)]
    assert not stale, f"no longer long (or gone), remove from the allow-list: {stale}"


# -- the checker itself, on a made-up package ---------------------------------------------------------
def _write(root: Path, files: dict[str, str]) -> Path:
    package = root / "workbench"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package


def test_checker_sees_relative_lazy_and_literal_dynamic_imports(tmp_path):
    package = _write(tmp_path, {
        "__init__.py": "from .pipeline import open_run\n",
        "data/__init__.py": "",
        "rundir.py": "from .data import load\n",
        "fairness/__init__.py": "from .stage import audit\n",
        "fairness/stage.py": "from .. import segment\nfrom ..rundir import Run\n",
        "segment/__init__.py": "",
        "segment/stage.py": "def f():\n    from ..fairness import _rates\n",
        "dynamics/views.py": "import importlib\nm = importlib.import_module('workbench.pipeline')\n",
        "pipeline/__init__.py": "",
        "explain/_shap.py": "import workbench\n",
    })
    edges = _edges(package)
    assert ("fairness", "segment") in edges and ("fairness", "rundir") in edges
    assert ("segment", "fairness") in edges  # lazy, inside a function
    assert ("dynamics", "pipeline") in edges  # importlib with a literal name
    assert ("explain", ROOT) in edges  # the bare package, which re-exports pipeline
    assert edges[("rundir", "data")] == ["workbench/rundir.py:1"]
    assert check_no_cycles(package) == [
        "import cycle between fairness, segment: fairness -> segment (workbench/fairness/stage.py:1); "
        "segment -> fairness (workbench/segment/stage.py:2)"
    ]
    rightward = check_arrows_point_left(package)
    assert [p.split(",")[0] for p in rightward] == [
        "dynamics imports pipeline", "explain imports workbench", "segment imports fairness"
    ]


def test_checker_measures_modules_and_nested_functions(tmp_path):
    body = "".join(f"            x{i} = {i}\n" for i in range(80))
    package = _write(tmp_path, {
        "short.py": "def f():\n" + "    pass\n" * 79,  # 80 lines: allowed
        "nested.py": "class A:\n    def m(self):\n        def inner():\n" + body,
        "big.py": "x = 1\n" * 601,
        "warehouse/__init__.py": "",
    })
    assert _long_functions(package) == {"workbench/nested.py::A.m": 82, "workbench/nested.py::A.m.inner": 81}
    assert _long_modules(package) == {"workbench/big.py": 601}
    assert check_units_are_placed(package) == [
        f"{name}: a new top-level unit; give it its place in ORDER" for name in ["big", "nested", "short", "warehouse"]
    ]
