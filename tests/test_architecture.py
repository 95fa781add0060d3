"""The package tree is the architecture: no import cycles, layers that only point down
(import-linter, pyproject.toml), and modules and functions small enough to read at once;
and the tests reach rolehop through its public names only."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "rolehop"
TESTS = ROOT / "tests"
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


def _readme_tree() -> list[str]:
    """The names the README's "How rolehop is built" tree gives directly under rolehop/."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## How rolehop is built", 1)[1]
    block = section.split("```text\n", 1)[1].split("```", 1)[0]
    lines = block.splitlines()
    assert lines[0] == "rolehop/", lines[0]
    return [line.split()[0] for line in lines[1:] if line.startswith("  ") and line[2] != " "]


def test_the_readme_tree_is_the_package() -> None:
    """Every folder and top-level module of rolehop/ has its line in the README's tree, and
    the tree names nothing that is not there."""
    ignored = {"__init__.py", "__main__.py", "py.typed", "__pycache__"}
    present = {
        path.name + ("/" if path.is_dir() else "")
        for path in PACKAGE.iterdir()
        if path.name not in ignored and (path.is_dir() or path.suffix == ".py")
    }
    named = _readme_tree()
    assert len(named) == len(set(named)), named
    assert sorted(named) == sorted(present)


# ---------------------------------------------------------------------------------------
# the tests use public names only
#
# A test that reaches into another module's private names (a leading underscore) pins that
# module's insides: a test needs the name, so the name is public. Checked statically, over
# every module under tests/ (tests/support included), for the modules of this project
# (rolehop and tests); no module or name is exempt.

OURS = ("rolehop", "tests")
# calls whose (object, "name") arguments reach an attribute by its name
BY_NAME = {"setattr", "getattr", "delattr", "hasattr"}


def is_private(name: str) -> bool:
    """``_name``, not ``__dunder__``."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def is_ours(dotted: str) -> bool:
    return dotted.split(".")[0] in OURS


@dataclass(frozen=True)
class Use:
    """One reference to a private name of another module: where and what."""

    path: Path
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.what}"


def module_name(path: Path) -> str:
    """``tests.support.stubs`` for tests/support/stubs.py."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


class PrivateUses(ast.NodeVisitor):
    """The private names of other modules of ours that one module refers to: imported
    (``from M import _x``, a private module), reached through an imported module or name
    (``M._x``, ``Class._x``), through a parameter annotated with such a type
    (``moto: Emulator`` … ``moto._x``), or by name (``setattr(M, "_x", …)``,
    ``monkeypatch.setattr("rolehop.m._x", …)``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.module = module_name(path)
        self.package = self.module if path.name == "__init__.py" else self.module.rpartition(".")[0]
        self.bound: dict[str, str] = {}  # local name -> the dotted name it was imported as
        self.found: list[Use] = []

    def other_module(self, dotted: str) -> bool:
        """Ours, and not this module itself."""
        own = dotted == self.module or dotted.startswith(f"{self.module}.")
        return is_ours(dotted) and not own

    def report(self, node: ast.AST, what: str) -> None:
        self.found.append(Use(self.path, getattr(node, "lineno", 0), what))

    def check_dotted(self, node: ast.AST, dotted: str) -> None:
        if self.other_module(dotted) and any(is_private(part) for part in dotted.split(".")):
            self.report(node, dotted)

    # imports

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.check_dotted(node, alias.name)
            if alias.asname:
                self.bound[alias.asname] = alias.name
            else:
                top = alias.name.split(".")[0]
                self.bound[top] = top

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            anchor = self.package.split(".")
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, *([base] if base else [])])
        for alias in node.names:
            if alias.name == "*":
                continue
            dotted = f"{base}.{alias.name}"
            self.check_dotted(node, dotted)
            self.bound[alias.asname or alias.name] = dotted

    # references

    def resolve(self, node: ast.expr, names: dict[str, str]) -> str | None:
        """The dotted name ``node`` stands for, if it starts at a name we know."""
        if isinstance(node, ast.Name):
            return names.get(node.id)
        if isinstance(node, ast.Attribute):
            owner = self.resolve(node.value, names)
            return f"{owner}.{node.attr}" if owner else None
        return None

    def annotated_ours(self, annotation: ast.expr | None) -> str | None:
        """The type of ours an annotation names (``Emulator``, ``Emulator | None``,
        ``"Emulator"``), if any."""
        if annotation is None:
            return None
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            try:
                annotation = ast.parse(annotation.value, mode="eval").body
            except SyntaxError:
                return None
        for node in ast.walk(annotation):
            if isinstance(node, ast.Name | ast.Attribute):
                dotted = self.resolve(node, self.bound)
                if dotted and self.other_module(dotted):
                    return dotted
        return None

    def scan(self, tree: ast.AST) -> None:
        # the imports first, wherever they are (a function may import what it uses)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                self.visit(node)
        self.references(tree, self.bound)

    def references(self, tree: ast.AST, names: dict[str, str]) -> None:
        for node in ast.iter_child_nodes(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                inner = dict(names)
                arguments = node.args
                every = [
                    *arguments.posonlyargs,
                    *arguments.args,
                    *arguments.kwonlyargs,
                    *filter(None, [arguments.vararg, arguments.kwarg]),
                ]
                for argument in every:
                    typed = self.annotated_ours(argument.annotation)
                    if typed:
                        inner[argument.arg] = f"{typed}()"  # an instance of it
                    else:
                        inner.pop(argument.arg, None)
                self.references(node, inner)
                continue
            if isinstance(node, ast.Attribute) and is_private(node.attr):
                owner = self.resolve(node.value, names)
                if owner and self.other_module(owner):
                    self.report(node, f"{owner}.{node.attr}")
            if isinstance(node, ast.Call):
                self.by_name(node, names)
                self.dotted_arguments(node)
            self.references(node, names)

    def dotted_arguments(self, call: ast.Call) -> None:
        """``monkeypatch.setattr("rolehop.m._x", …)``, ``mock.patch(…)``, ``import_module(…)``."""
        for argument in call.args:
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                text = argument.value
                dotted = " " not in text and self.other_module(text)
                if dotted and any(is_private(part) for part in text.split(".")):
                    self.report(argument, repr(text))

    def by_name(self, call: ast.Call, names: dict[str, str]) -> None:
        function = call.func
        if isinstance(function, ast.Attribute):
            called = function.attr
        else:
            called = function.id if isinstance(function, ast.Name) else ""
        if called not in BY_NAME or len(call.args) < 2:
            return
        target, name = call.args[0], call.args[1]
        if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
            return
        owner = self.resolve(target, names)
        if is_private(name.value) and owner and self.other_module(owner):
            self.report(call, f"{called}({owner}, {name.value!r})")


def modules_of_the_tests() -> Iterator[Path]:
    for path in sorted(TESTS.rglob("*.py")):
        if "__pycache__" not in path.parts:
            yield path


def private_uses(path: Path) -> list[Use]:
    scanner = PrivateUses(path)
    scanner.scan(ast.parse(path.read_text(), str(path)))
    return scanner.found


def test_no_test_uses_a_private_name_of_another_module() -> None:
    found = [str(use) for path in modules_of_the_tests() for use in private_uses(path)]

    assert found == [], "make these names public (the tests need them):\n" + "\n".join(found)


SAMPLE = """\
import rolehop.engine._hidden
from rolehop.engine import context
from rolehop.engine.context import _Once, build
from rolehop.features.demo import Emulator
from tests.support import stubs as s
from . import _sibling

def test_it(moto: Emulator, other: "Emulator | None", monkeypatch) -> None:
    context._opened(None)
    build._x
    moto._internal("1")
    other._thing
    s._session()
    monkeypatch.setattr(context, "_Lazy", None)
    monkeypatch.setattr("rolehop.engine.context._Lazy", None)
    context.__name__, context.build, moto.client, s.StubWorld
    setattr(object(), "_free", 1)

def test_shadowed(moto) -> None:
    moto._internal("1")

def _own() -> None:
    _own()
"""


def test_the_private_name_check_finds_every_kind_of_use() -> None:
    """The check itself: each kind of reference it should catch, and what it lets be."""
    path = TESTS / "sample_for_the_check.py"  # as if it were a module of the tests
    scanner = PrivateUses(path)
    scanner.scan(ast.parse(SAMPLE))

    assert [(use.line, use.what) for use in scanner.found] == [
        (1, "rolehop.engine._hidden"),
        (3, "rolehop.engine.context._Once"),
        (6, "tests._sibling"),
        (9, "rolehop.engine.context._opened"),
        (10, "rolehop.engine.context.build._x"),
        (11, "rolehop.features.demo.Emulator()._internal"),
        (12, "rolehop.features.demo.Emulator()._thing"),
        (13, "tests.support.stubs._session"),
        (14, "setattr(rolehop.engine.context, '_Lazy')"),
        (15, "'rolehop.engine.context._Lazy'"),
    ]
    assert [is_private(name) for name in ("_x", "__x", "x", "__init__", "x_")] == [
        True,
        True,
        False,
        False,
        False,
    ]
