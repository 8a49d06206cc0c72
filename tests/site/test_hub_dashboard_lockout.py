"""The hub dashboard's sign-in shares the station's PIN rule: 5 wrong PINs per employee, whatever form the badge
string takes, lock that employee for 5 minutes; every failure is audited with the employee it targeted. The count is
in the database: a restarted hub, or another hub of the site, does not start again from zero."""
from __future__ import annotations

import requests
from hubkit import dashboard_sign_in

from packgate.sync.upstream.demo_data import DEMO_BADGES


def test_wrong_pins_in_any_badge_form_lock_the_supervisor(site):
    uid = DEMO_BADGES["supervisor"]
    forms = [uid, uid.lower(), ":".join(uid[i:i + 2] for i in range(0, len(uid), 2)), uid + ":", "E005"]
    http = requests.Session()
    for form in forms:
        assert dashboard_sign_in(http, site.url, form, "0000").status_code == 401
    locked = dashboard_sign_in(http, site.url, uid, "9876")
    assert locked.status_code == 429
    site.clock.advance(301)
    assert dashboard_sign_in(http, site.url, uid, "9876").status_code == 303


def test_the_lockout_holds_across_hubs_and_restarts(make_site):
    first, second = make_site(), make_site()  # two hubs on one database (SQLite file or PostgreSQL)
    uid = DEMO_BADGES["supervisor"]
    for hub in (first, second, first, second, first):
        assert dashboard_sign_in(requests.Session(), hub.url, uid, "0000").status_code == 401
    assert dashboard_sign_in(requests.Session(), second.url, uid, "9876").status_code == 429
    first.stop()
    third = make_site()  # a restarted hub
    assert dashboard_sign_in(requests.Session(), third.url, uid, "9876").status_code == 429
