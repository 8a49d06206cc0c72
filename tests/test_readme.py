"""The README is the front door: short, the two commands first, and every link into the documentation site
resolves. What the README used to check — every command, configuration key and firmware profile documented, the
configuration example valid — is checked on the site now, where they are documented (``tests/test_docs.py``)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_is_short():
    assert len(README.splitlines()) <= 200


def test_the_two_commands_come_first():
    first_section = README.split("\n## ", 2)[1]
    assert first_section.startswith("The two commands")
    assert "./scripts/demo" in first_section and "./scripts/test" in first_section


def test_it_says_where_to_read_on():
    assert "./scripts/docs" in README
    for page in ("docs/install/station.md", "docs/install/hub.md", "docs/reference/configuration.md",
                 "docs/reference/cli.md", "docs/troubleshooting.md", "docs/development/layout.md"):
        assert f"]({page})" in README, page


def test_every_link_of_the_readme_resolves():
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README)
    local = [link for link in links if not link.startswith(("http://", "https://"))]
    assert len(local) > 10
    assert [link for link in local if not (ROOT / link).exists()] == []
