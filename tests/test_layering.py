"""The package's architecture, enforced.

* Import contracts (``[tool.importlinter]`` in pyproject.toml) checked with
  import-linter: layers model < engine/checkpoints < _napari < _widgets, a
  pure-torch model, headless model/engine/cli/export, no Qt in ``_napari``,
  nothing shipped importing the test helpers. grimp sees lazy imports inside
  functions too; :func:`test_contracts_catch_lazy_imports` proves it on a copy.
* At run time, importing every headless module loads no napari or Qt.
* Shipped modules import each other directly, never through the root's lazy
  name table (only ``from napari_sam2 import __version__`` is allowed).
* The lazy name tables of ``napari_sam2`` and ``napari_sam2.engine`` point at
  the modules that define the names.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
PACKAGE = SRC / "napari_sam2"


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the package under ``root/src`` with ``root/pyproject.toml``."""
    pytest.importorskip("importlinter")
    code = (
        "import sys; from importlinter.cli import lint_imports; "
        f"sys.exit(lint_imports(config_filename={str(root / 'pyproject.toml')!r}, no_cache=True))"
    )
    env = {"PYTHONPATH": str(root / "src"), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, env=env
    )


def test_import_contracts():
    proc = _lint_imports(REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_contracts_catch_lazy_imports(tmp_path):
    """A violating import inside a function, in a throwaway copy, breaks the contracts."""
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(PACKAGE, tmp_path / "src" / "napari_sam2",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "src" / "napari_sam2" / "engine" / "zz_violation.py").write_text(
        "def later():\n"
        "    from napari_sam2._napari import notify\n"
        "    import qtpy\n"
        "    return notify, qtpy\n"
    )
    (tmp_path / "src" / "napari_sam2" / "model" / "zz_violation.py").write_text(
        "def later():\n    from napari_sam2.engine import frames\n    return frames\n"
    )
    proc = _lint_imports(tmp_path)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    out = " ".join(proc.stdout.split())
    assert "napari_sam2.engine.zz_violation -> napari_sam2._napari.notify" in out
    assert "napari_sam2.engine.zz_violation -> qtpy" in out
    assert "napari_sam2.model.zz_violation -> napari_sam2.engine.frames" in out


# --- run time: headless modules load no GUI ---------------------------------

GUI_PACKAGES = {"napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "magicgui", "vispy",
                "superqt"}

RUNTIME_CHECK = """
import importlib, pkgutil, sys
import napari_sam2
names = ['napari_sam2.cli', 'napari_sam2.export']
for pkg in ('model', 'engine', 'checkpoints', 'batch'):
    try:
        mod = importlib.import_module('napari_sam2.' + pkg)
    except ModuleNotFoundError:
        continue
    names += [mod.__name__]
    names += [m.name for m in pkgutil.walk_packages(mod.__path__, mod.__name__ + '.')]
for name in names:
    importlib.import_module(name)
gui = sorted(m for m in sys.modules if m.split('.')[0] in {gui!r})
assert not gui, gui
"""


def test_headless_modules_load_no_gui():
    code = RUNTIME_CHECK.replace("{gui!r}", repr(GUI_PACKAGES))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_root_import_is_light():
    """``import napari_sam2`` (napari's plugin discovery) and its engine load no torch or numpy."""
    code = ("import sys, napari_sam2, napari_sam2.engine; "
            "print(sorted({m.split('.')[0] for m in sys.modules}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    loaded = set(ast.literal_eval(proc.stdout.strip()))
    assert not loaded & ({"torch", "numpy"} | GUI_PACKAGES), sorted(loaded)


# --- shipped modules never import through the root's lazy table -------------



def _shipped_modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path, path.name == "__init__.py"


def _root_imports(module: str, path: Path, is_package: bool) -> list[tuple[str, int]]:
    """``(name, line)`` of every ``from napari_sam2 import name`` in a module."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package.split(".")
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module
        if target == "napari_sam2":
            found += [(alias.name, node.lineno) for alias in node.names]
    return found


def test_no_imports_through_the_root_table():
    bad = []
    for module, path, is_package in _shipped_modules():
        if module == "napari_sam2":
            continue
        for name, line in _root_imports(module, path, is_package):
            if name != "__version__":
                bad.append(f"{path.relative_to(REPO)}:{line}: from napari_sam2 import {name}")
    assert not bad, (
        "import from the defining module (e.g. from napari_sam2.engine.session import "
        "VideoSession), not from the package root:\n" + "\n".join(bad)
    )


def test_root_import_scan_sees_relative_and_lazy_imports(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text(
        "def f():\n    from .. import VideoSession\n    from napari_sam2 import __version__\n"
    )
    assert _root_imports("napari_sam2.engine.mod", path, False) == [
        ("VideoSession", 2), ("__version__", 3)]


# --- lazy name tables point at the defining modules ---------------------------

def _type_checking_imports(path: Path) -> dict[str, str]:
    out = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for imp in node.body:
                if isinstance(imp, ast.ImportFrom):
                    out.update({alias.name: imp.module for alias in imp.names})
    return out


@pytest.mark.parametrize("package", ["napari_sam2", "napari_sam2.engine"])
def test_lazy_tables_point_at_defining_modules(package):
    mod = import_module(package)
    table = mod._EXPORTS
    assert sorted(mod.__all__) == sorted(table)
    path = Path(mod.__file__)
    hints = _type_checking_imports(path)
    for name, where in hints.items():
        assert table.get(name) == where, f"{package}: TYPE_CHECKING imports {name} from {where}"
    for name, where in table.items():
        if where.startswith("napari_sam2._napari"):
            continue  # needs napari; checked by the napari tests
        value = getattr(import_module(where), name)
        defined_in = getattr(value, "__module__", where)
        assert defined_in == where, f"{package}.{name}: table says {where}, defined in {defined_in}"
        assert getattr(mod, name) is value
