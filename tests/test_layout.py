"""The house rules the folder list promises: the library never imports the page, no import circle
between modules, every module imports, and modules and functions stay short enough to read."""

import ast
import subprocess
import sys
from pathlib import Path

from .helpers import ROOT


PACKAGE = ROOT / "pixelcnn"
LIBRARY = [p for p in PACKAGE.rglob("*.py") if "studio" not in p.relative_to(PACKAGE).parts]
MODULES = sorted(".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__") for p in PACKAGE.rglob("*.py")
                 if p.name != "__main__.py")
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60


def test_the_library_never_imports_the_page():
    for path in LIBRARY:
        tree = ast.parse(path.read_text())
        imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
        assert not any("studio" in name or name == "gradio" or name.startswith("gradio.") for name in imported), path


def imports_of(path: Path) -> set[str]:
    """The pixelcnn modules a module imports when it is loaded (its top-level import statements)."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pixelcnn"):
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & set(MODULES)
            found.update(submodules)
            if len(submodules) < len(node.names):  # a name the module (or package) itself defines
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("pixelcnn"))
    return found & set(MODULES)


def loaded_with(name: str, imported: set[str]) -> set[str]:
    """What importing `imported` runs from module `name`: each module and the __init__ of every
    package above it, but for the packages above `name` itself (already under way)."""
    mine = {".".join(name.split(".")[:k]) for k in range(1, name.count(".") + 1)}
    runs = set()
    for module in imported:
        parts = module.split(".")
        runs.update(".".join(parts[:k]) for k in range(1, len(parts) + 1))
    return (runs - mine - {name}) & set(MODULES)


def test_no_import_circle():
    """The graph of module-level imports between pixelcnn's modules has no cycle."""
    graph = {name: loaded_with(name, imports_of(ROOT / (name.replace(".", "/") + ("/__init__.py" if (ROOT / name.replace(".", "/")).is_dir()
                                                                                  else ".py")))) for name in MODULES}
    state, path = {}, []

    def visit(name):
        state[name] = "open"
        path.append(name)
        for other in sorted(graph[name]):
            assert state.get(other) != "open", "import circle: " + " -> ".join(path[path.index(other):] + [other])
            if other not in state:
                visit(other)
        path.pop()
        state[name] = "done"

    for name in MODULES:
        if name not in state:
            visit(name)


def test_every_module_imports():
    code = "import importlib, sys; [importlib.import_module(m) for m in sys.argv[1:]]"
    result = subprocess.run([sys.executable, "-c", code, *MODULES], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-1500:]


def test_modules_and_functions_are_short():
    long_modules, long_functions = [], []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        if len(text.splitlines()) > MAX_MODULE_LINES:
            long_modules.append(str(path.relative_to(ROOT)))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                long_functions.append(f"{path.relative_to(ROOT)}:{node.name}")
    assert long_modules == [] and long_functions == []
