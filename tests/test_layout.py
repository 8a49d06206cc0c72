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
#: what the pure core may import from packgate besides itself: value types and pure functions, no I/O
CORE_MAY_IMPORT = ("packgate.station.core", "packgate.station.errors", "packgate.device.codes", "packgate.device.clock",
                   "packgate.device.errors", "packgate.device.scanner.barcode", "packgate.device.scanner.aim",
                   "packgate.device.scale.reading")
#: third-party and standard modules that do I/O or start threads: never in the core
CORE_FORBIDDEN_EXTERNAL = ("flask", "sqlite3", "requests", "serial", "threading", "waitress", "cheroot", "socket",
                           "subprocess", "http", "urllib", "psycopg", "nfc", "cv2", "evdev", "apprise", "shutil")


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


def _allowed_in_core(module: str) -> bool:
    if module.startswith("packgate."):
        return any(module == p or module.startswith(p + ".") for p in CORE_MAY_IMPORT)
    return not any(module == p or module.startswith(p + ".") for p in CORE_FORBIDDEN_EXTERNAL)


def test_station_core_is_pure():
    offenders = {name: sorted(i for i in _imports(name, path) if not _allowed_in_core(i))
                 for name, path in MODULES.items() if name.startswith("packgate.station.core")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_core_check_catches_the_stations_own_io():
    for io_module in ("packgate.station.store", "packgate.station.dock", "packgate.station.web.app",
                      "packgate.sync.common.db", "packgate.device.scale.reader", "sqlite3", "threading"):
        assert not _allowed_in_core(io_module), io_module
    assert _allowed_in_core("packgate.station.core.models") and _allowed_in_core("decimal")


# station's layers, lowest first: a module may import its own layer and the ones below, never above
STATION_LAYERS = ("packgate.station.errors", "packgate.station.core", "packgate.station", "packgate.station.web", "packgate.station.runtime",
                  "packgate.station.demo")


def _layer(name: str) -> int:
    """The layer of the longest matching prefix: ``packgate.station.core.lots`` is core, not ``packgate.station``."""
    matches = [(len(prefix), i) for i, prefix in enumerate(STATION_LAYERS) if name == prefix or name.startswith(prefix + ".")]
    return max(matches)[1]


def test_layer_is_the_longest_prefix():
    assert _layer("packgate.station.errors") == 0
    assert _layer("packgate.station.core.lots") == 1
    assert _layer("packgate.station.store") == 2
    assert _layer("packgate.station.web.app") == 3


def test_station_layers_only_import_downwards():
    upward = {name: sorted(i for i in _imports(name, path, top_level_only=True)
                           if i.startswith("packgate.station.") and i in MODULES and _layer(i) > _layer(name))
              for name, path in MODULES.items() if name.startswith("packgate.station.")}
    assert {k: v for k, v in upward.items() if v} == {}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                strong(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            strong(name)
    return found


def _import_graph() -> dict[str, set[str]]:
    """Every import counts, deferred ones inside functions and ``if TYPE_CHECKING:`` ones too: a cycle hidden by a
    local import is still a cycle."""
    return {name: {i for i in _imports(name, path) if i in MODULES and i != name}
            for name, path in MODULES.items()}


def test_no_import_cycle():
    assert _cycles(_import_graph()) == []


def test_the_cycle_check_sees_a_deferred_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


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
    result = subprocess.run([_tool("ruff"), "check", "--no-cache", "device", "station", "sync", "tests", "docs/hooks.py", "scripts/bench_device",
                             "scripts/bench_device_inputs.py", "scripts/bench-device"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:]
