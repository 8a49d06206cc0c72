"""The order test files run in, and what a run measures for the next one (a pytest plugin, loaded by
``tests/conftest.py``).

pytest-xdist hands whole files to its workers in collection order (``--dist loadfile --no-loadscope-reorder``), each
worker taking the next file when it is nearly done. Files go longest first, by the seconds each took in the last
recorded run (``tests/durations.json``), so that no half-minute file starts last and leaves one worker running alone.
(Alternating the files that keep a core busy with those that mostly wait was tried: 362-390 s against 306 s.)
A file not yet recorded counts 30 s if a test in it is marked ``long``, else 1 s.

``PACKGATE_TEST_DURATIONS=write ./scripts/test`` records each file's seconds and CPU seconds (the worker's own and
its finished child processes') into ``tests/durations.json``."""
from __future__ import annotations

import json
import os
import resource
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
DURATIONS = ROOT / "tests" / "durations.json"
LONG_S, SHORT_S = 30.0, 1.0
RECORD = os.environ.get("PACKGATE_TEST_DURATIONS") == "write"
_NEXT = pytest.StashKey["pytest.Item | None"]()


def _cpu_s() -> float:
    """CPU seconds of this process, of its finished child processes and of those still running (a browser, a hub)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime + _running_children_s()


def _running_children_s() -> float:
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid], ticks[pid] = int(fields[1]), int(fields[11]) + int(fields[12])
    me, total = os.getpid(), 0
    for pid in ticks:
        up, seen = parents.get(pid), 0
        while up and up != me and seen < 64:
            up, seen = parents.get(up), seen + 1
        if up == me:
            total += ticks[pid]
    return total / os.sysconf("SC_CLK_TCK")


def order(files: dict[str, tuple[float, float]]) -> list[str]:
    """``files`` (name: seconds, CPU seconds) in the order to run them: longest first."""
    return sorted(files, key=lambda name: (-files[name][0], name))


def known() -> dict[str, tuple[float, float]]:
    if not DURATIONS.exists():
        return {}
    return {name: (float(v["s"]), float(v["cpu"])) for name, v in json.loads(DURATIONS.read_text(encoding="utf-8")).items()}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in its file's place (stable: a file's own order is kept). Two tests under one id are refused: the
    scheduling keys tests by id and would run only one of them, silently."""
    shared = sorted(nodeid for nodeid, n in Counter(item.nodeid for item in items).items() if n > 1)
    if shared:
        raise pytest.UsageError(f"tests sharing an id (only one of each would run in parallel): {shared[:5]}")
    recorded = known()
    files: dict[str, tuple[float, float]] = {}
    for item in items:
        name = item.path.relative_to(ROOT).as_posix()
        guess = (LONG_S if item.get_closest_marker("long") else SHORT_S, 0.0)
        if name not in recorded and guess[0] > files.get(name, (0.0, 0.0))[0]:
            files[name] = guess
        files.setdefault(name, recorded.get(name, guess))
    place = {name: i for i, name in enumerate(order(files))}
    items.sort(key=lambda item: place[item.path.relative_to(ROOT).as_posix()])


_file_started: dict[Path, float] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    if RECORD:
        item.stash[_NEXT] = nextitem
        if item.path not in _file_started:
            _file_started.clear()
            _file_started[item.path] = _cpu_s()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    """The file's CPU seconds ride on the teardown report of its last test on this worker."""
    outcome = yield
    if RECORD and call.when == "teardown" and item.path in _file_started and not _next_is_same_file(item):
        outcome.get_result().user_properties.append(("cpu_s", _cpu_s() - _file_started.pop(item.path)))


def _next_is_same_file(item: pytest.Item) -> bool:
    nextitem = item.stash.get(_NEXT, None)
    return nextitem is not None and nextitem.path == item.path


_took: dict[str, list[float]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    took = _took.setdefault(report.nodeid.split("::")[0], [0.0, 0.0])
    took[0] += report.duration
    took[1] += sum(value for key, value in report.user_properties if key == "cpu_s")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not RECORD or hasattr(session.config, "workerinput") or not _took:
        return
    rows = sorted(_took.items(), key=lambda kv: (-kv[1][0], kv[0]))
    DURATIONS.write_text("{\n" + ",\n".join(f'{json.dumps(name)}: {{"s": {s:.1f}, "cpu": {cpu:.1f}}}'
                                             for name, (s, cpu) in rows) + "\n}\n", encoding="utf-8")


def _leave_at_once() -> None:
    """A worker's last step, once its results are sent and every fixture is torn down: the process ends here instead
    of having Python free its whole heap object by object first (seconds, with a whole run's caches)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if os.environ.get("PYTEST_XDIST_WORKER"):
    import atexit

    atexit.register(_leave_at_once)  # registered first, so it runs after every other exit handler
