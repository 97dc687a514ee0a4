"""The engine is the pure core: it must run without Django, Celery, Channels or DRF."""

import ast
import subprocess
import sys
from pathlib import Path

ENGINE_DIR = Path(__file__).resolve().parents[2] / "apps" / "engine"
FORBIDDEN = ("django", "celery", "channels", "rest_framework", "kombu")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module.split(".")[0])
    return modules


def test_no_engine_module_imports_a_framework():
    offenders = {
        str(path.relative_to(ENGINE_DIR)): sorted(_imported_modules(path) & set(FORBIDDEN)) for path in ENGINE_DIR.rglob("*.py")
    }
    assert {name: mods for name, mods in offenders.items() if mods} == {}


def test_importing_every_engine_module_loads_no_framework():
    modules = [
        "apps.engine." + ".".join(path.relative_to(ENGINE_DIR).with_suffix("").parts)
        for path in ENGINE_DIR.rglob("*.py")
        if path.name != "__init__.py"
    ]
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"loaded = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ENGINE_DIR.parents[1])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
