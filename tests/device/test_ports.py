"""Free ports for emulators, test servers and hubs started in parallel (pytest-xdist workers, two runs)."""
from __future__ import annotations

import socket

from packgate.device.emulation import ports
from packgate.device.emulation.ports import free_tcp_port, free_udp_port


def test_ports_are_free_distinct_and_below_the_kernels_ephemeral_range():
    ephemeral_low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    handed = [free_tcp_port() for _ in range(40)] + [free_udp_port() for _ in range(40)]
    assert len(set(handed)) == len(handed)
    assert all(ports.BAND_LOW <= p < ephemeral_low for p in handed)
    assert not {p + 1 for p in handed} & set(handed)
    for port in handed[:5]:
        with socket.create_server(("127.0.0.1", port)):
            pass


def test_a_port_in_use_is_never_handed_out_and_a_full_band_falls_back_to_the_kernel():
    with socket.create_server(("127.0.0.1", 0)) as held:
        port = held.getsockname()[1]
        band = ports._Ports(range(port, port + 1))
        fallback = band.take(socket.SOCK_STREAM)
        assert fallback != port
        with socket.create_server(("127.0.0.1", fallback)):
            pass


def test_every_walk_starts_at_a_random_point_of_the_band():
    starts = set()
    for _ in range(20):
        band = ports._Ports(range(10_000, 30_000))
        starts.add(band._next)
    assert len(starts) > 15


def test_ports_handed_out_in_turn_are_far_apart_and_the_walk_visits_every_port():
    band = ports._Ports(range(20_000, 20_000 + 1_000))
    walk = [band.band[(band._next + k * band.stride) % 1_000] for k in range(1_000)]
    assert sorted(walk) == list(band.band)
    assert all(abs(a - b) > 1 for a, b in zip(walk, walk[1:], strict=False))  # the demo listens on port and port + 1


def test_udp_ports_are_never_ones_the_services_database_names(monkeypatch):
    """nfcpy's udp driver reads its port back through getnameinfo, which names 30865 "csync2" (Debian's netbase)
    and fails on it."""
    named = socket.getservbyname("csync2", "tcp")  # the driver's getnameinfo looks the port up as TCP
    band = ports._Ports(range(named, named + 2))
    band._next = 0  # the walk starts at the named port
    monkeypatch.setattr(ports, "_PORTS", band)
    assert free_udp_port() == named + 1
    assert socket.getnameinfo(("127.0.0.1", named + 1), socket.NI_NUMERICHOST)[1] == str(named + 1)
