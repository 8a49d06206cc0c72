"""The house rules of the code layout, checked on the source: arrows only point down, the core is pure,
and the type checker and the linter are clean."""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"device": "packgate.device", "station": "packgate.station", "sync": "packgate.sync"}
CORE_FORBIDDEN = ("packgate.station.web", "packgate.station.runtime", "packgate.station.demo", "packgate.sync",
                  "flask", "sqlite3", "requests", "serial", "threading", "waitress", "socket", "subprocess")


def _modules() -> dict[str, Path]:
    found = {}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            name = ".".join((package, *parts))
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path, *, top_level_only: bool = False) -> set[str]:
    """Modules ``name`` imports (resolved to packgate modules where they are ours)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.If) and top_level_only:  # `if TYPE_CHECKING:` blocks are not run
            continue
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.level:
                raise AssertionError(f"{name}: relative import of {node.module}; packgate imports absolutely")
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                out.add(full if full in MODULES else node.module)
    return out


def test_no_module_outside_station_imports_station():
    offenders = {name: sorted(i for i in _imports(name, path) if i.startswith("packgate.station"))
                 for name, path in MODULES.items() if not name.startswith("packgate.station")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_device_imports_neither_station_nor_sync():
    offenders = {name: sorted(i for i in _imports(name, path) if i.startswith(("packgate.station", "packgate.sync")))
                 for name, path in MODULES.items() if name.startswith("packgate.device")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_station_core_is_pure():
    offenders = {name: sorted(i for i in _imports(name, path) if i.startswith(CORE_FORBIDDEN))
                 for name, path in MODULES.items() if name.startswith("packgate.station.core")}
    assert {k: v for k, v in offenders.items() if v} == {}


# station's layers, lowest first: a module may import its own layer and the ones below, never above
STATION_LAYERS = ("packgate.station.core", "packgate.station", "packgate.station.web", "packgate.station.runtime",
                  "packgate.station.demo")


def _layer(name: str) -> int:
    return max(i for i, prefix in enumerate(STATION_LAYERS) if name == prefix or name.startswith(prefix + "."))


def test_station_layers_only_import_downwards():
    upward = {name: sorted(i for i in _imports(name, path, top_level_only=True)
                           if i.startswith("packgate.station.") and i in MODULES and _layer(i) > _layer(name))
              for name, path in MODULES.items() if name.startswith("packgate.station.")}
    assert {k: v for k, v in upward.items() if v} == {}


def test_no_import_cycle():
    graph = {name: {i for i in _imports(name, path, top_level_only=True) if i in MODULES}
             for name, path in MODULES.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if nxt == node or nxt.startswith(node + "."):  # a package importing its own submodules
                continue
            if state.get(nxt) == 1:
                cycles.append(trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_old_top_level_names_are_not_importable():
    code = "import importlib.util, sys; sys.exit(any(importlib.util.find_spec(n) for n in ('device', 'station', 'sync')))"
    result = subprocess.run([sys.executable, "-P", "-c", code], cwd="/", capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, "a top-level device/station/sync module is installed"


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent))
    if path is None:
        pytest.fail(f"{name} is not installed in the test environment (it is a pinned test dependency)")
    return path


def test_mypy_reports_no_error():
    result = subprocess.run([_tool("mypy"), "--no-error-summary"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_ruff_is_clean():
    result = subprocess.run([_tool("ruff"), "check", "--no-cache", "device", "station", "sync", "tests", "scripts/bench_device",
                             "scripts/bench_device_inputs.py", "scripts/bench-device"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:]
