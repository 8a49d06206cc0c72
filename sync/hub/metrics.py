"""The hub's ``/metrics``: Prometheus text from one registry per hub (prometheus-client).

Two kinds of series, one place each:

* **counted as it happens** — the counters and histograms below, updated by the request paths: confirmations
  received by status, ingest latency, the size and time of every group commit;
* **read when scraped** — ``STATE``, one row per series: (name, type, help, how to read it from
  ``Hub.snapshot()``). The snapshot is taken once per scrape (one read transaction), so a new series is one row
  here and, if it needs data the snapshot lacks, one more key in ``Hub.snapshot``.

The process's own CPU, memory and open files come with prometheus-client's ``ProcessCollector``
(``process_cpu_seconds_total``, ``process_resident_memory_bytes``, …).
"""
from __future__ import annotations

from typing import Any, Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Snapshot = dict[str, Any]

# name, type ("gauge" or "counter": a total kept by the hub itself), help, reader of the snapshot
STATE: tuple[tuple[str, str, str, Callable[[Snapshot], float | None]], ...] = (
    ("packgate_hub_relay_depth", "gauge", "Confirmations received and not yet relayed to the WMS.",
     lambda s: s["relay"]["depth"]),
    ("packgate_hub_relay_lag_seconds", "gauge",
     "Age of the oldest confirmation not yet relayed to the WMS (0 when none waits).",
     lambda s: s["relay"]["lag_s"]),
    ("packgate_hub_relay_dead_letters", "gauge", "Confirmations the WMS refused, waiting for a supervisor.",
     lambda s: s["relay"]["dead"]),
    ("packgate_hub_relay_sent", "gauge", "Confirmations relayed to the WMS and kept by the hub.",
     lambda s: s["relay"]["sent"]),
    ("packgate_hub_feed_head", "gauge", "Number of the last change on the feed (committed).",
     lambda s: s["feed"]["head"]),
    ("packgate_hub_feed_sealed", "gauge", "Number of the last change handed to the followers.",
     lambda s: s["feed"]["sealed"]),
    ("packgate_hub_feed_streams", "gauge", "Feed streams open now (one per following station).",
     lambda s: s["feed"]["streams"]),
    ("packgate_hub_feed_waiting", "gauge", "Feed long-polls waiting now.", lambda s: s["feed"]["waiting"]),
    ("packgate_hub_feed_batches", "counter", "Feed batches sealed (each serialised once for every follower).",
     lambda s: s["feed"]["batches"]),
    ("packgate_hub_feed_changes", "counter", "Feed changes sealed into batches.", lambda s: s["feed"]["changes"]),
    ("packgate_hub_alerts_open", "gauge", "Alerts of the site's rules not yet acknowledged by a supervisor.",
     lambda s: s["alerts_open"]),
)


class _State(Collector):
    """The ``STATE`` rows, read from one snapshot per scrape."""

    def __init__(self, snapshot: Callable[[], Snapshot]):
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot()
        for name, kind, help_text, read in STATE:
            value = read(snap)
            if kind == "counter":
                yield CounterMetricFamily(name.removesuffix("_total"), help_text, value=float(value or 0))
            else:
                yield GaugeMetricFamily(name, help_text, value=float("nan") if value is None else float(value))


class HubMetrics:
    def __init__(self, snapshot: Callable[[], Snapshot]):
        self.registry = CollectorRegistry()
        self.confirmations = Counter("packgate_hub_confirmations", "Confirmations received from the stations, by answer.",
                                     ["status"], registry=self.registry)
        self.ingest_seconds = Histogram("packgate_hub_ingest_seconds",
                                        "Time to answer a POST /v1/confirmations (parse, commit, answer).",
                                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
                                        registry=self.registry)
        self.group_size = Histogram("packgate_hub_write_group_size", "Writes committed together in one transaction.",
                                    buckets=(1, 2, 4, 8, 16, 32, 64), registry=self.registry)
        self.group_seconds = Histogram("packgate_hub_write_group_seconds",
                                       "Time of one group's transaction, first statement to COMMIT.",
                                       buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
                                       registry=self.registry)
        ProcessCollector(registry=self.registry)
        self.registry.register(_State(snapshot))

    def committed(self, size: int, seconds: float) -> None:
        self.group_size.observe(size)
        self.group_seconds.observe(seconds)

    def received(self, results: list[dict[str, Any]]) -> None:
        for result in results:
            self.confirmations.labels(str(result.get("status"))).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
