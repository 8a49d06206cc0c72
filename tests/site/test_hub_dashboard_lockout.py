"""The hub dashboard's sign-in shares the station's PIN rule: 5 wrong PINs per employee, whatever form the badge
string takes, lock that employee for 5 minutes; every failure is audited with the employee it targeted."""
from __future__ import annotations

import requests

from packgate.sync.upstream.demo_data import DEMO_BADGES


def test_wrong_pins_in_any_badge_form_lock_the_supervisor(site):
    uid = DEMO_BADGES["supervisor"]
    forms = [uid, uid.lower(), ":".join(uid[i:i + 2] for i in range(0, len(uid), 2)), uid + ":", "E005"]
    http = requests.Session()
    for form in forms:
        assert http.post(f"{site.url}/login", data={"badge": form, "pin": "0000"}, allow_redirects=False,
                         timeout=5).status_code == 401
    locked = http.post(f"{site.url}/login", data={"badge": uid, "pin": "9876"}, allow_redirects=False, timeout=5)
    assert locked.status_code == 429
    site.clock.advance(301)
    assert http.post(f"{site.url}/login", data={"badge": uid, "pin": "9876"}, allow_redirects=False,
                     timeout=5).status_code == 303
