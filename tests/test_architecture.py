"""The package tree is the architecture: no import cycles, layers that only point down
(import-linter, pyproject.toml), and modules and functions small enough to read at once."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "rolehop"
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), TYPE_CHECKING
    imports included."""
    graph = grimp.build_graph("rolehop")
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles() -> None:
    assert _cycles() == []


def test_the_layers_hold() -> None:
    """lint-imports with the contracts of pyproject.toml (also run by .ci/run)."""
    program = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(program)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_modules_fit_in_one_sitting() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in _sources()
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_functions_fit_on_a_screen() -> None:
    long = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines})")
    assert long == []


def test_every_module_says_what_it_holds() -> None:
    """A newcomer reads the tree: each module's docstring says what it is for."""
    missing = [
        str(path.relative_to(ROOT))
        for path in _sources()
        if path.name != "__main__.py" and ast.get_docstring(ast.parse(path.read_text())) is None
    ]
    assert missing == []


def test_no_two_modules_share_a_name_that_means_different_things() -> None:
    """Names that once meant three things (server.py) must not come back. A command's
    module in rolehop/cli/ is named after the command, which drives the thing of that name
    (cli/cache.py, the ``cache`` commands, over stores/cache.py): that is one meaning."""
    names: dict[str, list[str]] = {}
    for path in _sources():
        if path.name not in ("__init__.py", "__main__.py") and path.parent.name != "cli":
            names.setdefault(path.stem, []).append(str(path.relative_to(ROOT)))
    shared = {name: paths for name, paths in names.items() if len(paths) > 1}
    assert shared == {}, shared
