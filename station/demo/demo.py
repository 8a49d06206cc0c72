"""``packgate demo``: a site on emulated devices (WMS, site hub, two stations), and its scripted self-test."""
from __future__ import annotations

from packgate.station.demo import busy as busy_floor
from packgate.station.demo.floor import build_site
from packgate.station.demo.selftest import selftest
from packgate.station.runtime.agent import wait_for_signal
from packgate.sync.upstream import demo_data


def run_demo(port: int = 8080, upstream_port: int = 8765, data_dir: str | None = None, hub_port: int = 8770,
             label_mode: str = "print", camera: bool = True, busy: bool = False, busy_pace: float = 4.0,
             per_item: bool = False) -> int:
    site = build_site(ports=(port, port + 1 if port else 0), hub_port=hub_port, upstream_port=upstream_port,
                      data_dir=data_dir, station_overrides={"label.mode": label_mode,
                                                            **(busy_floor.STATION_OVERRIDES if busy else {})},
                      hub_overrides=busy_floor.HUB_OVERRIDES if busy else None, camera=camera,
                      per_item=per_item)
    floor = busy_floor.BusyFloor(site, pace_s=busy_pace).start() if busy else None
    badges = demo_data.DEMO_BADGES
    first, second = (rig.agent.url for rig in site.stations)
    rig = site.stations[0]
    # each table's database, in the command that reads it (`packgate sync status` alone looks in ./var/ST01/)
    sync_lines = "\n".join(f"  sync {i}       packgate sync status --db {table.agent.db_path}"
                            for i, table in enumerate(site.stations, start=1))
    per_item_line = (" (per-item weighing: the empty box on the scale first, then each item as it is scanned)"
                     if per_item else "")
    busy_line = ("\n  busy floor   a wave of orders is being released, picked and packed (some blocked, one held by"
                 " the WMS);\n               table 2 goes offline part way: watch the dashboard, its alerts and"
                 f" {site.hub_url}/reports")
    camera_line = (f"  camera       table 1 films {rig.agent.cfg['camera.source']} and records a packing video per order"
                   " (supervisor page, Evidence)\n") if camera else ""
    print(f"""
packgate demo is running: a site with two packing tables.
  kiosk        {first}/            Packing table 1 (use the "demo devices" panel, or type codes into the scan field)
  kiosk 2      {second}/            Packing table 2{per_item_line}
  weights      both tables judge with the learned gate (weighing.gate = "learned"), sharing what they learn
               through the hub; suspect weights: {first}/supervisor ("Suspect catalogue weights") and {site.hub_url}/weights
  PDA picking  {first}/pda         (badge code {badges['picker']}, PIN 4321)
  supervisor   {first}/supervisor  (badge code {badges['supervisor']}, PIN 9876)
  site hub     {site.hub_url}/            the site dashboard (badge code {badges['supervisor']}, PIN 9876)
  WMS          {site.wms_url}/openapi.json
  data         {site.root}{" (deleted on exit; --data-dir DIR keeps it)" if site.cleanup_dir else ""}
  devices      table 1: scale {rig.scale.where.get('pty', '?')} · NFC {rig.agent.cfg['badge.reader']}
  scan a code  echo SO-10009 > {rig.scan_input.path}   (the scanner's end of table 1; the station reads {rig.scanner.path})
  printer      table 1: {rig.agent.cfg['printer.profile']} emulator at {rig.agent.cfg['printer.port']} (label.mode {label_mode})
{camera_line}{sync_lines}{busy_line if busy else ""}
Press Ctrl-C to stop.""", flush=True)
    try:
        wait_for_signal()
    finally:
        print("stopping…", flush=True)
        if floor is not None:
            floor.stop()
        site.stop()
    return 0


def run_selftest(data_dir: str | None = None) -> int:
    return selftest(data_dir=data_dir)
