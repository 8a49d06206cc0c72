"""The feed costs per change, not per follower: changes are sealed into batches serialised once and shared by
every long-poll and stream at that cursor; a change leaves at the watcher's first pass after its commit (on an
injected clock); streams over HTTP deliver in order, resume from Last-Event-ID and refuse bad cursors."""
from __future__ import annotations

import gc
import json
import logging
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from hubkit import TOKENS
from hypothesis import given
from hypothesis import strategies as st
from parkedclock import ParkedClock
from polling import eventually

from packgate.sync.hub.engine import Database
from packgate.sync.hub.feedwatch import BATCH, OPENING, STREAM_WAKES_PER_S, FeedWatch, encode, entry
from packgate.sync.hub.server import create_hub_app
from packgate.sync.hub_client import FeedFollower, SiteClient

TOKEN = "token-of-station-01-abcdef"  # the site fixture's token of ST01


def change(db: Database, subject: str, count: int = 1) -> None:
    """One committed transaction with ``count`` feed changes."""
    with db.tx() as conn:
        for k in range(count):
            conn.feed_row(datetime.now(timezone.utc), "test", f"{subject}-{k}" if count > 1 else subject, {"n": k})


def test_many_followers_share_one_serialisation_per_batch(db: Database):
    feed = FeedWatch(db)  # not started: the test seals by hand
    start = feed.head
    answers: list[bytes] = []
    frames: list[list[bytes]] = []

    def poll() -> None:
        answers.append(feed.answer(start, 10))

    def stream() -> None:
        frames.append(feed._next_frames(start)[0])

    waiters = [threading.Thread(target=poll) for _ in range(20)] + [threading.Thread(target=stream) for _ in range(5)]
    for thread in waiters:
        thread.start()
    for k in range(30):
        change(db, f"c{k}")  # thirty commits
    time.sleep(0.3)
    assert answers == [] and frames == []  # nothing leaves before the seal
    feed.seal()
    for thread in waiters:
        thread.join(10)
    assert feed.sealed_batches == 1 and feed.sealed_changes == 30
    assert len({id(body) for body in answers}) == 1  # the very same bytes for every follower: serialised once
    body = answers[0]
    assert [e["subject"] for e in json.loads(body)["events"]] == [f"c{k}" for k in range(30)]
    assert len({id(f[0]) for f in frames}) == 1 and all(len(f) == 1 for f in frames)
    assert frames[0][0] == b"id: %d\nevent: changes\ndata: %s\n\n" % (start + 30, body)


def test_with_many_followers_seals_come_less_often_so_they_wake_at_most_so_many_a_second(db: Database):
    """Every seal wakes every follower (a stream's or long-poll's thread, each taking Python's lock from the
    confirmations' writer): past ``STREAM_WAKES_PER_S`` × ``seal_s`` followers the watcher waits longer."""
    feed = FeedWatch(db, seal_s=0.1)  # not started
    assert feed.wait_after(None) == 0.1
    start = feed.head
    few = STREAM_WAKES_PER_S // 20  # half of what seals every 0.1 s may wake
    streams = [feed.stream(start) for _ in range(few)]
    for stream in streams:
        assert next(stream) == b": packgate site feed\n\n"  # the stream is open (counted)
    assert feed.streams == few and feed.wait_after(None) == 0.1
    more = [feed.stream(start) for _ in range(400 - few)]
    for stream in more:
        next(stream)
    assert feed.wait_after(None) == pytest.approx(400 / STREAM_WAKES_PER_S)
    for stream in streams + more:
        stream.close()
    assert feed.streams == 0 and feed.wait_after(None) == 0.1


def test_a_change_leaves_at_the_first_pass_after_its_commit(db: Database):
    """On a parked clock the watcher passes only when the test lets its ``seal_s`` pass: a committed change waits
    for that pass and no longer (the propagation bound is one ``seal_s`` plus the time to wake)."""
    clock = ParkedClock()
    feed = FeedWatch(db, seal_s=0.1, clock=clock).start()
    try:
        clock.wait_asleep()
        start = feed.head
        got: list[dict[str, Any]] = []
        waiter = threading.Thread(target=lambda: got.append(json.loads(feed.answer(start, 10))))
        waiter.start()
        change(db, "late")
        time.sleep(0.3)
        assert got == [] and feed.sealed == start  # committed, not yet sealed
        clock.let_pass()  # one seal_s later
        waiter.join(5)
        assert [e["subject"] for e in got[0]["events"]] == ["late"]
        assert clock.asked and set(clock.asked) == {0.1}  # every wait of the watcher is one seal_s
    finally:
        assert feed.stop()


def test_wait_zero_answers_what_is_committed_before_any_seal(db: Database):
    feed = FeedWatch(db)
    start = feed.head
    change(db, "mine")
    answer = json.loads(feed.answer(start, 0))
    assert [e["subject"] for e in answer["events"]] == ["mine"] and feed.sealed == start


def test_a_burst_larger_than_a_batch_is_sealed_in_batches_and_read_in_order(db: Database):
    feed = FeedWatch(db)
    start = feed.head
    change(db, "burst", BATCH + 20)
    feed.seal()
    assert feed.sealed_batches == 2
    cursor, subjects = start, []
    for _ in range(3):
        answer = json.loads(feed.answer(cursor, 1))
        subjects += [e["subject"] for e in answer["events"]]
        cursor = int(answer["cursor"])
    assert subjects == [f"burst-{k}" for k in range(BATCH + 20)]
    frames, end = feed._next_frames(start)  # a stream gets both batches' shared frames at once
    assert end == start + BATCH + 20 and len(frames) == 2


def test_a_cursor_inside_a_batch_or_older_than_the_tail_still_gets_every_change(db: Database):
    feed = FeedWatch(db, tail=10)
    start = feed.head
    change(db, "t", 25)  # more than the tail holds
    feed.refresh()
    feed.seal()
    frames, cursor = feed._next_frames(start)  # older than the tail: from the database
    events = [json.loads(f.split(b"data: ", 1)[1])["events"] for f in frames]
    seen = [e["subject"] for batch in events for e in batch]
    while cursor < feed.sealed:
        more, cursor = feed._next_frames(cursor)
        seen += [e["subject"] for f in more for e in json.loads(f.split(b"data: ", 1)[1])["events"]]
    assert seen == [f"t-{k}" for k in range(25)]
    inside = json.loads(feed.answer(start + 20, 1))  # a cursor in the middle of the sealed batch
    assert [e["subject"] for e in inside["events"]] == [f"t-{k}" for k in range(20, 25)]


def test_stop_ends_every_wait_and_stream_at_once(db: Database):
    feed = FeedWatch(db, keepalive_s=30).start()
    ended: list[float] = []
    stream = feed.stream(feed.head)
    assert next(stream).startswith(b":")
    poll = threading.Thread(target=lambda: (feed.answer(feed.head, 30), ended.append(time.monotonic())))
    reader = threading.Thread(target=lambda: (list(stream), ended.append(time.monotonic())))
    poll.start()
    reader.start()
    time.sleep(0.3)
    assert feed.streams == 1 and feed.waiting == 1
    stopped = time.monotonic()
    assert feed.stop()
    poll.join(2)
    reader.join(2)
    assert len(ended) == 2 and max(ended) - stopped < 0.5
    assert feed.streams == 0 and feed.waiting == 0


# ---- over HTTP --------------------------------------------------------------------------------------
def read_stream(url: str, headers: dict[str, str], want: int) -> list[dict[str, Any]]:
    """The batches of an open stream until ``want`` events arrived (SSE parsed by hand, as a browser would)."""
    batches: list[dict[str, Any]] = []
    with requests.get(url, headers=headers, stream=True, timeout=10) as resp:
        assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
        data: list[str] = []
        for line in resp.iter_lines(decode_unicode=True):
            if line.startswith("data: "):
                data.append(line[6:])
            elif line == "" and data:
                batches.append(json.loads("\n".join(data)))
                data = []
                if sum(len(b["events"]) for b in batches) >= want:
                    return batches
    return batches


def test_the_stream_over_http_delivers_in_order_and_resumes_from_last_event_id(site):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    head = int(requests.get(f"{site.url}/v1/feed?since=0&wait=0&limit=1", headers=auth, timeout=5).json()["head"])
    for order in ("SO-10011", "SO-10012", "SO-10013"):
        site.hub.claim("ST02", order, "E003")
    batches = read_stream(f"{site.url}/v1/feed/stream?since={head}", auth, 3)
    events = [e for b in batches for e in b["events"]]
    assert [(e["kind"], e["subject"]) for e in events] == [("claim", o) for o in ("SO-10011", "SO-10012", "SO-10013")]
    assert [e["seq"] for e in events] == [head + 1, head + 2, head + 3]
    again = read_stream(f"{site.url}/v1/feed/stream", {**auth, "Last-Event-ID": str(head + 1)}, 2)
    assert [e["subject"] for b in again for e in b["events"]] == ["SO-10012", "SO-10013"]


def test_the_stream_refuses_bad_cursors_unknown_tokens_and_too_many_streams(make_site):
    # 10 threads: 8 stay for confirmations, 2 may hold long-polls; a token may hold 3 long-polls and streams, and a
    # stream (written by the server's one pump thread) holds no thread
    site = make_site(**{"site.threads": 10, "feed.max_waits_per_station": 3})
    auth = {"Authorization": f"Bearer {TOKEN}"}
    other = {"Authorization": f"Bearer {TOKENS['ST02']}"}
    for query, headers in (("?since=-1", auth), ("?since=12abc", auth), ("", {**auth, "Last-Event-ID": "x1"})):
        resp = requests.get(f"{site.url}/v1/feed/stream{query}", headers=headers, timeout=5)
        assert resp.status_code == 400 and "error" in resp.json()
    assert requests.get(f"{site.url}/v1/feed/stream", timeout=5).status_code == 401
    assert site.hub.long_polls.total == 2
    head = site.hub.feed.head
    held = [requests.get(f"{site.url}/v1/feed/stream", headers=auth, stream=True, timeout=10) for _ in range(3)]
    polls = [threading.Thread(target=requests.get, args=(f"{site.url}/v1/feed?since={head}&wait=8",),
                              kwargs={"headers": other, "timeout": 15}) for _ in range(2)]
    try:
        assert eventually(lambda: site.hub.feed.streams == 3)
        refused = requests.get(f"{site.url}/v1/feed/stream", headers=auth, timeout=5)  # the token's share is taken
        assert refused.status_code == 429 and "at most 3 per token" in refused.json()["error"]
        for poll in polls:
            poll.start()
        assert eventually(lambda: site.hub.feed.waiting == 2)
        full = requests.get(f"{site.url}/v1/feed?since={head}&wait=5", headers=other, timeout=10)
        assert full.status_code == 429 and "2 long-polls open" in full.json()["error"]  # the threads' share is taken
        held.append(requests.get(f"{site.url}/v1/feed/stream", headers=other, stream=True, timeout=10))
        assert held[-1].status_code == 200  # a stream takes no thread: past the threads' share, within the token's
        assert eventually(lambda: site.hub.feed.streams == 4)
        assert requests.get(f"{site.url}/healthz", timeout=5).status_code == 200  # the rest is still served
        site.station("ST02").confirm("scan", "order", "SO-10011")
        assert site.station("ST02").push() == 1  # and so are confirmations
    finally:
        for resp in held:
            resp.close()
        for poll in polls:
            poll.join(15)
    # a stream that ends gives its place back
    assert eventually(lambda: site.hub.long_polls.open == 0, timeout=10)
    again = requests.get(f"{site.url}/v1/feed/stream", headers=auth, stream=True, timeout=10)
    try:
        assert again.status_code == 200
    finally:
        again.close()


def test_the_follower_reads_the_stream_and_a_stream_that_breaks_is_opened_again(make_site, tmp_path: Path):
    site = make_site()
    client = SiteClient(site.url, "ST01", TOKEN)
    (tmp_path / "cursor").write_text(client.feed(0, 0)["head"])
    seen: list[str] = []
    follower = FeedFollower(client, lambda e: seen.append(e["subject"]), tmp_path / "cursor").start()
    try:
        assert eventually(lambda: site.hub.feed.streams == 1)
        site.hub.claim("ST02", "SO-10011", "E003")
        assert eventually(lambda: seen == ["SO-10011"])
        site.hub.feed.stop()  # every stream ends (as when a hub restarts)...
        site.hub.feed.start()
        site.hub.claim("ST02", "SO-10012", "E003")
        assert eventually(lambda: seen == ["SO-10011", "SO-10012"])  # ...and the follower is back on at once
        assert follower.streaming and follower.failures == 0
        # the cursor is saved once the batch is handled (after on_change returned)
        assert eventually(lambda: int((tmp_path / "cursor").read_text()) == site.hub.feed.head)
    finally:
        assert follower.stop()


class OlderHub:
    """A hub of the release before streams: ``/v1/feed/stream`` is unknown (404), everything else is the real hub's
    answer (passed through)."""

    def __init__(self, hub_url: str):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                if self.path.startswith("/v1/feed/stream"):
                    status, body = 404, b'{"error": "404 Not Found"}'
                else:
                    resp = requests.get(hub_url + self.path, headers={"Authorization": self.headers["Authorization"]},
                                        timeout=30)
                    status, body = resp.status_code, resp.content
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a follower stopping cuts its long-poll: nothing to report

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_follower_long_polls_a_hub_without_streams(site, tmp_path: Path, caplog):
    older = OlderHub(site.url)
    client = SiteClient(older.url, "ST01", TOKEN)
    (tmp_path / "cursor").write_text(client.feed(0, 0)["head"])
    seen: list[str] = []
    caplog.set_level(logging.INFO, logger="packgate.sync.hub_client")
    follower = FeedFollower(client, lambda e: seen.append(e["subject"]), tmp_path / "cursor", wait_s=2).start()
    try:
        site.hub.claim("ST02", "SO-10011", "E003")
        assert eventually(lambda: seen == ["SO-10011"])
        assert not follower.streaming and site.hub.feed.streams == 0
        assert "long-polling /v1/feed instead" in caplog.text
    finally:
        assert follower.stop()
        older.close()


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | _TEXT
                       | st.decimals(allow_nan=False, allow_infinity=False, places=2),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
                       max_leaves=8)


@given(events=st.lists(st.fixed_dictionaries({"seq": st.integers(1, 10**12), "at": _TEXT, "kind": _TEXT,
                                               "subject": _TEXT, "data": st.dictionaries(_TEXT, _VALUES, max_size=4)}),
                       max_size=5),
       cursor=st.integers(0, 10**12), head=st.integers(0, 10**12))
def test_an_answer_joined_from_changes_serialised_one_by_one_is_the_json_of_them_all(events, cursor, head):
    """The tail keeps each change's JSON, not the change: the answer joined from them is byte for byte what one
    serialisation of the whole answer gives (compact, UTF-8, numbers of the cursor and head as strings)."""
    whole = json.dumps({"events": events, "cursor": str(cursor), "head": str(head)}, separators=(",", ":"),
                       ensure_ascii=False, default=lambda value: str(value)).encode()
    assert encode([entry(event) for event in events], cursor, head) == whole


def test_the_tail_gives_the_cycle_collector_nothing_to_walk(db: Database):
    """20,000 changes in memory as dicts made every full collection 20-60 ms (a pause of every request at 200
    stations): the tail keeps numbers and bytes, which the collector stops tracking."""
    feed = FeedWatch(db)
    change(db, "a", 50)  # published by this process's commit
    with db.tx() as conn:  # another hub's rows: read from the database by the watcher's pass
        conn.execute("UPDATE hub_counters SET n = n + 1 WHERE name = 'feed'")
        conn.execute("INSERT INTO hub_feed (seq, at, kind, subject, data) VALUES (?, ?, 'test', 'other', '{}')",
                     (feed.head + 1, "2026-12-06T00:00:00+00:00"))
    change(db, "b", 10)
    feed.refresh()
    gc.collect()
    assert len(feed._tail) == 61
    assert [gc.is_tracked(kept) for kept in feed._tail] == [False] * 61
    answer = json.loads(feed.answer(feed.head - 61, 0, limit=100))
    assert [e["subject"] for e in answer["events"]] == [f"a-{k}" for k in range(50)] + ["other"] + [
        f"b-{k}" for k in range(10)]


def test_without_the_stream_pump_a_stream_holds_its_thread_and_counts_against_the_threads_share(site):
    """The hub's app under a server without the pump (here werkzeug's test client): the stream is written from the
    request's own thread, so it counts against the threads' share as well as the token's, and closing it gives
    both places back."""
    client = create_hub_app(site.hub).test_client()
    polls = site.hub.long_polls
    resp = client.get("/v1/feed/stream?since=0", headers={"Authorization": f"Bearer {TOKEN}"}, buffered=False)
    assert resp.status_code == 200 and resp.mimetype == "text/event-stream"
    assert next(iter(resp.response)) == OPENING
    assert polls.open == 1 and polls.holding_threads == 1
    resp.close()
    assert polls.open == 0 and polls.holding_threads == 0
