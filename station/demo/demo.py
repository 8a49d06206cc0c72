"""``packgate demo``: the station on emulated devices, and its scripted self-test."""
from __future__ import annotations

from packgate.station.demo.rig import build_rig
from packgate.station.demo.selftest import selftest
from packgate.station.runtime.agent import wait_for_signal
from packgate.sync.upstream import demo_data


def run_demo(port: int = 8080, upstream_port: int = 8765, data_dir: str | None = None) -> int:
    rig = build_rig(port=port, upstream_port=upstream_port, data_dir=data_dir)
    badges = demo_data.DEMO_BADGES
    print(f"""
packgate demo is running.
  kiosk        {rig.agent.url}/            (use the "demo devices" panel, or type codes into the scan field)
  PDA picking  {rig.agent.url}/pda         (badge code {badges['picker']}, PIN 4321)
  supervisor   {rig.agent.url}/supervisor  (badge code {badges['supervisor']}, PIN 9876)
  upstream     {rig.upstream_url}/openapi.json  (admin token {rig.admin_token}; station ST01 has its own)
  data         {rig.data_dir}{" (deleted on exit; --data-dir DIR keeps it)" if rig.cleanup_dir else ""}
  devices      scale {rig.scale.where.get('path', rig.scale.where)} · scanner {rig.scanner.path} · NFC {rig.agent.cfg['badge.reader']}
Press Ctrl-C to stop.""", flush=True)
    try:
        wait_for_signal()
    finally:
        print("stopping…", flush=True)
        rig.stop()
    return 0


def run_selftest(data_dir: str | None = None) -> int:
    return selftest(data_dir=data_dir)
