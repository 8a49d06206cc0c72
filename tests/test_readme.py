"""The README is the site IT person's manual: it must name every command and every configuration key."""
from __future__ import annotations

from pathlib import Path

import click

from packgate.station.runtime.cli import cli
from packgate.station.runtime.config import SCHEMA

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "packgate") -> list[str]:
    found = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found += _commands(command, path)
        else:
            found.append(path)
    return found


def test_the_two_commands_come_first():
    first_section = README.split("\n## ", 2)[1]
    assert "./scripts/demo" in first_section and "./scripts/test" in first_section


def test_every_cli_command_is_documented():
    missing = [c for c in _commands(cli) if c not in README]
    assert missing == [], f"README does not mention: {missing}"


def test_every_configuration_key_is_documented():
    missing = [key for key in SCHEMA if f"`{key}`" not in README]
    assert missing == [], f"README does not document: {missing}"


def test_every_firmware_profile_is_listed():
    profiles = Path(__file__).resolve().parent.parent / "firmware-profiles"
    names = [p.stem for p in profiles.glob("*.toml") if "abstract = true" not in p.read_text()]
    missing = [n for n in names if f"`{n}`" not in README]
    assert missing == [], f"README does not list profiles: {missing}"


def test_the_configuration_example_is_valid():
    import tomllib

    from packgate.station.runtime.config import SCHEMA, validate
    from packgate.sync.common.settings import flatten

    section = README.split("## Configuration (`packgate.toml`)", 1)[1]
    example = section.split("```toml", 1)[1].split("```", 1)[0]
    validate(flatten(tomllib.loads(example), SCHEMA))
