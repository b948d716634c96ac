"""The layout's rules, checked by walking the project's imports (every import, lazy ones too, except
those under `if TYPE_CHECKING:`, which never run)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "dportal", "ledger", "marketplace")
MAX_LINES = 700


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports_of(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except those inside `if TYPE_CHECKING:` blocks."""
    out: list[ast.AST] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        out.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return out


def _imports(name: str, *, lazy: bool = True) -> set[str]:
    """The dotted names `name` imports (with `lazy`, those inside functions too): project modules
    resolved to the module, others as written. The project uses no relative imports."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(), str(path))
    nodes = _runtime_nodes(tree) if lazy else tree.body
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.update(_imports_of(node))
    return found


GRAPH = {name: {i for i in _imports(name) if i in MODULES and i != name} for name in MODULES}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(GRAPH):
        if start in index:
            continue
        work = [(start, iter(sorted(GRAPH[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(GRAPH[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def _closure(start: str) -> set[str]:
    """Every dotted name `start` loads with it: module-level imports, followed through the project's
    modules. Imports inside functions run only when called; tests/ledger/test_verify_startup.py runs
    the verify command itself and checks what it loaded."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in MODULES:
            todo.extend(_imports(name, lazy=False))
    return seen


def test_no_import_cycle_among_the_projects_modules():
    assert _cycles() == []


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [("ledger", ("marketplace", "dportal")), ("marketplace", ("dportal",)), ("config", ())],
)
def test_layers_import_only_downwards(layer, forbidden):
    crossing = sorted(
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        if name == layer or name.startswith(layer + ".")
        for target in targets
        if target.split(".")[0] in forbidden
    )
    assert crossing == []


@pytest.mark.parametrize("entry", ["ledger.offline.verify", "marketplace.cli"])
def test_the_verifiers_path_imports_neither_web3_nor_django(entry):
    """`nfvm verify` runs on a user's machine with no marketplace: its modules stay light."""
    reached = _closure("ledger.offline.verify") if entry == "ledger.offline.verify" else _verify_command_closure()
    heavy = sorted(name for name in reached if name.split(".")[0] in ("web3", "django"))
    assert heavy == []


def _verify_command_closure() -> set[str]:
    """What `nfvm verify` imports: the CLI module's top level and the verify command's own imports."""
    tree = ast.parse(MODULES["marketplace.cli"].read_text())
    reached: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            for name in _imports_of(node):
                reached |= _closure(name)
        elif isinstance(node, ast.FunctionDef) and node.name == "cmd_verify":
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    for name in _imports_of(inner):
                        reached |= _closure(name)
    return reached


def test_no_module_is_over_700_lines():
    long = sorted(
        f"{path.relative_to(ROOT)}: {lines}"
        for path in MODULES.values()
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    )
    assert long == []
