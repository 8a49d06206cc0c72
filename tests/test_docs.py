"""The documentation site (MkDocs, ``mkdocs.yml`` and ``docs/``): it builds strictly (every link and anchor
resolves), its generated references cover every configuration key, command, option and HTTP endpoint of the code,
and what its pages show — commands, configuration examples, Python imports, protocol citations — is true of the
code."""
from __future__ import annotations

import html
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import click
import pytest
import yaml

from packgate.station.runtime.cli import cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))


def _mkdocs() -> list[str]:
    """mkdocs run by this interpreter (``python -m``): the hooks render the code of this tree, whatever interpreter the
    ``mkdocs`` script's first line names (a virtualenv copied from another checkout names that one's)."""
    if importlib.util.find_spec("mkdocs") is None:
        pytest.fail("mkdocs is not installed in the test environment (it is a pinned test dependency)")
    return [sys.executable, "-m", "mkdocs"]


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([*_mkdocs(), "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
                          cwd=config.parent, capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built once for this module with ``mkdocs build --strict``."""
    out = tmp_path_factory.mktemp("site")
    result = build(ROOT / "mkdocs.yml", out)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return out


def page(site: Path, name: str) -> str:
    return (site / name / "index.html").read_text(encoding="utf-8")


def hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("packgate_docs_hooks", DOCS / "hooks.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the build -------------------------------------------------------------------------------------------------

def test_the_site_builds_strictly_with_links_and_anchors_checked(site):
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    assert config["theme"]["name"] == "material"
    assert config["validation"]["links"]["anchors"] == "warn" and config["validation"]["links"]["not_found"] == "warn"
    assert (site / "index.html").exists() and (site / "install" / "station" / "index.html").exists()


def test_a_broken_anchor_fails_the_strict_build(tmp_path):
    """The same configuration on a copy of the pages with one link to an anchor that does not exist."""
    docs = tmp_path / "docs"
    shutil.copytree(DOCS, docs, ignore=shutil.ignore_patterns("__pycache__"))
    with (docs / "troubleshooting.md").open("a", encoding="utf-8") as f:
        f.write("\nSee [the station](install/station.md#no-such-section).\n")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    for folder in ("device", "station", "sync", "firmware-profiles"):  # what the hooks render from
        (tmp_path / folder).symlink_to(ROOT / folder)
    result = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert result.returncode != 0
    assert "no-such-section" in result.stdout + result.stderr


def test_every_page_is_in_the_nav_and_the_protocols_added_page_has_its_place():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    missing = [str(p.relative_to(DOCS)) for p in PAGES if f": {p.relative_to(DOCS)}" not in nav]
    assert missing == []
    assert "devices/protocols-added.md" in nav and (DOCS / "devices" / "protocols-added.md").read_text().startswith("# ")


# --- generated references cover the code -----------------------------------------------------------------------

def _text(html_text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", html_text))


def test_every_configuration_key_is_in_the_configuration_reference(site):
    from packgate.station.runtime.config import SCHEMA as STATION
    from packgate.sync.hub.config import SCHEMA as HUB

    text = page(site, "reference/configuration")
    station_part, hub_part = text.split('id="hub"', 1)
    assert [k for k in STATION if f"<code>{k}</code>" not in station_part] == []
    assert [k for k in HUB if f"<code>{k}</code>" not in hub_part] == []


def _commands() -> list[tuple[str, click.Command]]:
    return hooks().command_paths(cli)


def test_every_command_and_option_is_in_the_command_reference(site):
    text = page(site, "reference/cli")
    sections = dict(re.findall(r'id="(packgate[a-z0-9-]*)"(.*?)(?=<h[2-5] id="packgate|\Z)', text, re.S))
    assert len(_commands()) > 30
    missing = []
    for path, command in _commands():
        section = sections.get(path.replace(" ", "-"))
        if section is None:
            missing.append(path)
            continue
        for param in command.params:
            names = [param.human_readable_name] if isinstance(param, click.Argument) else param.opts
            missing += [f"{path} {name}" for name in names if html.escape(name, quote=False) not in section]
    assert missing == []
    assert {"packgate install station", "packgate install hub", "packgate kiosk"} <= {p for p, _ in _commands()}


def test_every_http_endpoint_is_in_its_api_reference(site):
    from packgate.station.web.openapi import OPENAPI
    from packgate.sync.hub.openapi import openapi_document as hub_document
    from packgate.sync.upstream.openapi import openapi_document as upstream_document

    anchor = hooks().operation_anchor
    for name, doc in (("api-station", OPENAPI), ("api-hub", hub_document()), ("api-upstream", upstream_document())):
        text = page(site, f"reference/{name}")
        operations = [(m, p) for p, item in doc["paths"].items() for m in item if m in ("get", "post", "put", "delete")]
        assert len(operations) >= 8, name
        missing = [f"{m.upper()} {p}" for m, p in operations if f'id="{anchor(m, p)}"' not in text]
        assert missing == [], name


def test_every_firmware_profile_is_listed(site):
    profiles = [p.stem for p in (ROOT / "firmware-profiles").glob("*.toml") if "abstract = true" not in p.read_text()]
    text = page(site, "reference/profiles")
    assert [n for n in profiles if f"<code>{n}</code>" not in text] == []
    scales = [p.stem for p in (ROOT / "firmware-profiles").glob("*.toml")
              if 'kind = "scale"' in p.read_text() and "abstract = true" not in p.read_text()]
    assert [n for n in scales if f"`{n}`" not in (DOCS / "devices" / "scales.md").read_text()] == []


def test_every_module_is_in_the_code_layout(site):
    text = page(site, "development/layout")
    modules = [p for folder in ("device", "station", "sync") for p in (ROOT / folder).rglob("*.py")
               if p.name not in ("__init__.py", "__main__.py") and "__pycache__" not in p.parts]
    missing = [str(p.relative_to(ROOT)) for p in modules
               if f'id="layout-{"-".join(p.parent.relative_to(ROOT).parts)}"' not in text
               or f"<code>{p.name}</code>" not in text]
    assert missing == []


# --- what the pages show is true -------------------------------------------------------------------------------

CODE_SPAN = re.compile(r"`([^`\n]+)`")
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[a-z]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.S | re.M)
# packgate as the command of a shell line: at its start (after sudo or a $ prompt, by any path) or after | ; && $(
INVOCATION = re.compile(r"(?:^\s*|[|;&(]\s*|\bsudo\s+|^\$\s+)(?:\S*/)?packgate\s+(?P<rest>.*)", re.M)
STOP = {"|", "||", "&&", ";", ">", ">>", "2>", "2>&1", "…", "...", "\\"}


def _shown_commands(text: str) -> list[str]:
    """``packgate …`` invocations a page shows: in inline code and in shell code blocks."""
    found = [m.group(1) for m in CODE_SPAN.finditer(FENCE.sub("", text))]
    for block in FENCE.finditer(text):
        if block["lang"] in ("sh", "bash", "console"):
            found += block["body"].splitlines()
    out = []
    for snippet in found:
        for match in INVOCATION.finditer(snippet):
            out.append(match["rest"])
    return out


def check_invocation(rest: str) -> list[str]:
    """Problems with one ``packgate …`` invocation: unknown commands or options. Words at a leaf command are its
    arguments; placeholders and shell syntax end the check."""
    problems: list[str] = []
    command: click.Command = cli
    path = "packgate"
    tokens = rest.split()
    i, depth = 0, 0  # depth: inside [optional] or (alternative) groups, where | separates alternatives

    def nesting(text: str) -> int:
        return text.count("[") + text.count("(") - text.count("]") - text.count(")")

    while i < len(tokens):
        raw = tokens[i]
        token = raw.strip("[]()")
        i += 1
        inside = depth > 0
        depth += nesting(raw)
        if raw in STOP and not inside or raw.startswith("#"):
            break
        if not token or token in STOP:
            continue
        if token.startswith("-"):
            name = token.split("=", 1)[0]
            options = {o: p for p in command.params if isinstance(p, click.Option) for o in (*p.opts, *p.secondary_opts)}
            options.update({o: p for p in cli.params if isinstance(p, click.Option) for o in p.opts})
            if name in ("-h", "--help"):
                continue
            option = options.get(name)
            if option is None:
                problems.append(f"{path}: no option {name}")
                continue
            if not (option.is_flag or option.count) and "=" not in token and name not in option.secondary_opts:
                if i < len(tokens):  # its value
                    depth += nesting(tokens[i])
                    i += 1
            continue
        if isinstance(command, click.Group):
            sub = command.get_command(click.Context(command), token)
            if sub is None:
                if not re.fullmatch(r"[a-z][a-z-]*", token):
                    break  # a placeholder (ORDER, <…>) where a subcommand would go: nothing more to check
                problems.append(f"{path}: no command {token!r}")
                break
            command, path = sub, f"{path} {token}"
    return problems


def test_every_command_the_pages_show_exists():
    checked = 0
    problems = []
    for source in [*PAGES, ROOT / "README.md"]:
        for rest in _shown_commands(source.read_text(encoding="utf-8")):
            checked += 1
            problems += [f"{source.relative_to(ROOT)}: packgate {rest.strip()[:60]}: {p}" for p in check_invocation(rest)]
    assert checked > 100
    assert problems == []


def test_the_command_check_catches_a_wrong_command_or_option():
    assert check_invocation("device read --profile x --port y --count 5") == []
    assert check_invocation("sync retry-dead --by <supervisor id> --all") == []
    assert check_invocation("device reed --port y") == ["packgate device: no command 'reed'"]
    assert check_invocation("device read --baud 9600") == ["packgate device read: no option --baud"]
    assert check_invocation("--log-level debug run --config x.toml") == []
    assert check_invocation("device emulate --profile P (--pty | --tcp PORT) [--weight GRAMS]") == []
    assert check_invocation("device emulate --profile P (--pty | --tcpp PORT)") == ["packgate device emulate: no option --tcpp"]
    assert check_invocation("device read --profile P | jq . --nope") == []


def _blocks(lang: str) -> list[tuple[Path, str, str]]:
    """(page, the line before the block, the block) for every fenced block of ``lang``."""
    out = []
    for source in PAGES:
        text = source.read_text(encoding="utf-8")
        for block in FENCE.finditer(text):
            if block["lang"] == lang:
                before = text[:block.start()].rstrip("\n").rsplit("\n", 1)[-1]
                out.append((source, before, block["body"]))
    return out


def test_the_configuration_examples_are_valid():
    from packgate.station.runtime import config as station
    from packgate.sync.common.settings import flatten
    from packgate.sync.hub import config as hub

    checked = {"packgate.toml": 0, "site.toml": 0}
    for source, before, body in _blocks("toml"):
        tree = tomllib.loads(body)  # every TOML block parses
        flat_station, flat_hub = flatten(tree, station.SCHEMA), flatten(tree, hub.SCHEMA)
        if before.strip() == "<!-- checked: packgate.toml -->":
            station.validate(flat_station)
            checked["packgate.toml"] += 1
        elif before.strip() == "<!-- checked: site.toml -->":
            hub.validate(flat_hub)
            checked["site.toml"] += 1
        elif "kind" not in tree and "name" not in tree:  # a firmware profile snippet has its own checks
            unknown = set(flat_station) - set(station.SCHEMA)
            assert not unknown or not set(flat_hub) - set(hub.SCHEMA), f"{source.relative_to(ROOT)}: {sorted(unknown)}"
    assert checked == {"packgate.toml": 1, "site.toml": 1}


def test_the_python_imports_the_pages_show_import():
    imports = [line.strip() for _s, _b, body in _blocks("python") for line in body.splitlines()
               if line.strip().startswith(("from packgate", "import packgate"))]
    assert imports
    for line in imports:
        exec(compile(line, "<docs>", "exec"), {})


CITATION = re.compile(r"(?<![\w/])(?P<path>(?:[\w/]*/)?(?P<file>protocols(?:-added)?\.md))"
                      r"(?:[ ,]*(?:§|section |sections )?(?P<section>\d+(?:\.\d+)?))?")


def _sections(name: str) -> set[str]:
    return set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", (DOCS / "devices" / name).read_text(encoding="utf-8"), re.M))


def test_every_protocols_citation_points_at_the_protocol_notes():
    """Profiles, tests and code cite ``docs/devices/protocols.md`` (and ``protocols-added.md``) by section; each
    citation names the file by that path and each section cited exists there."""
    sections = {name: _sections(name) for name in ("protocols.md", "protocols-added.md")}
    cited = 0
    problems = []
    for folder in ("device", "station", "sync", "tests", "firmware-profiles", "scripts"):
        for path in (ROOT / folder).rglob("*"):
            if not path.is_file() or path.suffix not in (".py", ".toml", ".md") or path == Path(__file__):
                continue
            for match in CITATION.finditer(path.read_text(encoding="utf-8")):
                cited += 1
                where = f"{path.relative_to(ROOT)}: {match.group(0)}"
                if match["path"] != f"docs/devices/{match['file']}":
                    problems.append(f"{where}: cite it as docs/devices/{match['file']}")
                if match["section"] and match["section"] not in sections[match["file"]]:
                    problems.append(f"{where}: no section {match['section']} there")
    assert cited >= 18
    assert problems == []


def test_readme_and_docs_name_the_docs_command():
    script = ROOT / "scripts" / "docs"
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert "packgate_setup test" in text and "mkdocs serve" in text
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True, timeout=30).returncode == 0


ITEM = re.compile(r"^ *([-*]|\d+\.) ")


def test_no_list_or_table_is_folded_into_the_paragraph_before_it():
    """Python-Markdown (unlike GitHub) reads a list or a table that follows a paragraph line with no blank line as
    more of that paragraph: the page then shows "- item" as text."""
    problems = []
    for source in PAGES:
        lines = source.read_text(encoding="utf-8").splitlines()
        fenced = False
        for i, line in enumerate(lines):
            if line.strip().startswith("```"):
                fenced = not fenced
            if fenced or i == 0 or not lines[i - 1].strip() or line.strip().startswith("```"):
                continue
            previous = lines[i - 1]
            if line.strip().startswith("|") and not previous.strip().startswith("|"):
                problems.append(f"{source.relative_to(ROOT)}:{i + 1}: a table right after a paragraph line")
            if ITEM.match(line) and not ITEM.match(previous):
                j = i - 1
                while j >= 0 and lines[j].strip() and not ITEM.match(lines[j]):
                    j -= 1
                if j < 0 or not lines[j].strip():
                    problems.append(f"{source.relative_to(ROOT)}:{i + 1}: a list right after a paragraph")
    assert problems == []
