"""The order test files run in, and what a run measures for the next one (a pytest plugin, loaded by
``tests/conftest.py``).

pytest-xdist hands whole files to its workers in collection order (``--dist loadfile --no-loadscope-reorder``), each
worker taking the next file when it is nearly done. Files go longest first, by the seconds each took in the last
recorded run (``tests/durations.json``), so that no half-minute file starts last and leaves one worker running alone.
(Alternating the files that keep a core busy with those that mostly wait was tried: 362-390 s against 306 s.)
A file not yet recorded counts 30 s if a test in it is marked ``long``, else 1 s.

``PACKGATE_TEST_DURATIONS=write ./scripts/test`` records the seconds of each file it ran into ``tests/durations.json``."""
from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DURATIONS = ROOT / "tests" / "durations.json"
LONG_S, SHORT_S = 30.0, 1.0


def _recorded() -> dict[str, float]:
    return json.loads(DURATIONS.read_text(encoding="utf-8")) if DURATIONS.exists() else {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in its file's place, longest file first (stable: a file's own order is kept). Two tests under one
    id are refused: the scheduling keys tests by id and would run only one of them, silently."""
    shared = sorted(nodeid for nodeid, n in Counter(item.nodeid for item in items).items() if n > 1)
    if shared:
        raise pytest.UsageError(f"tests sharing an id (only one of each would run in parallel): {shared[:5]}")
    recorded = _recorded()
    long_files = {item.path for item in items if item.get_closest_marker("long")}

    def seconds(item: pytest.Item) -> float:
        name = item.path.relative_to(ROOT).as_posix()
        return float(recorded.get(name, LONG_S if item.path in long_files else SHORT_S))

    items.sort(key=lambda item: -seconds(item))


_took: Counter = Counter()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _took[report.nodeid.split("::")[0]] += report.duration


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("PACKGATE_TEST_DURATIONS") != "write" or hasattr(session.config, "workerinput") or not _took:
        return
    took = {**_recorded(), **_took}  # a run of some files keeps the others' seconds
    rows = sorted(took.items(), key=lambda kv: (-kv[1], kv[0]))
    DURATIONS.write_text("{\n" + ",\n".join(f"{json.dumps(name)}: {s:.1f}" for name, s in rows) + "\n}\n",
                         encoding="utf-8")


def _leave_at_once() -> None:
    """A worker's last step, once its results are sent and every fixture is torn down: the process ends here instead
    of having Python free its whole heap object by object first (seconds, with a whole run's caches)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if os.environ.get("PYTEST_XDIST_WORKER"):
    import atexit

    atexit.register(_leave_at_once)  # registered first, so it runs after every other exit handler
