"""The core never imports Qt, so everything the GUI does runs headless."""

import ast
import subprocess
import sys
from pathlib import Path

import playground.core

CORE = Path(playground.core.__file__).parent
QT = ("PySide6", "pyqtgraph", "shiboken6", "PyQt5", "PyQt6")


def test_no_core_module_imports_qt_in_its_source():
    for path in CORE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in QT, f"{path.name} imports {name}"


def test_importing_the_whole_core_and_cli_loads_no_qt():
    modules = [f"playground.core.{p.stem}" for p in CORE.glob("*.py") if p.stem != "__init__"]
    code = (
        f"import sys, importlib\nfor m in {modules!r} + ['playground.cli']: importlib.import_module(m)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {QT!r}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def core_imports() -> dict[str, set[str]]:
    """Each core module and the core modules it imports, at the top or inside a function."""
    graph = {}
    for path in CORE.glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                deps |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("playground.core."):
                deps.add(node.module.split(".")[2])
        graph[path.stem] = deps - {path.stem}
    return graph


def test_core_imports_form_a_hierarchy():
    """No import cycle, not even through an import inside a function: each module can be read
    (and tested) knowing only the ones below it."""
    graph = core_imports()
    assert {"spec", "validation", "shapes", "training"} <= graph.keys()
    done, path = set(), []

    def visit(module: str) -> None:
        if module in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(module):] + [module]))
        if module in done:
            return
        path.append(module)
        for dep in sorted(graph.get(module, ())):
            visit(dep)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    assert "validation" not in graph["spec"]   # the old cycle: spec -> validation -> shapes -> spec
