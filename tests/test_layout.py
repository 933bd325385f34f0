"""The house rules the folder list promises: the library never imports the page, every module
imports on its own (no import circle hides behind another import), and modules and functions stay
short enough to read (the exceptions are named here, with the reason)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
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


@pytest.mark.parametrize("module", MODULES)
def test_each_module_imports_first_on_its_own(module):
    """Imported first in a fresh interpreter, a module in an import circle fails (a partly
    initialised module has not defined what the other one takes from it)."""
    result = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, cwd=ROOT, timeout=120)
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
