"""MkDocs hooks: the reference pages are rendered from the code at build time, so they cannot drift from it.

A page asks for a generated section with an HTML comment on a line of its own, ``<!-- packgate:generate NAME -->``;
``on_page_markdown`` replaces it with Markdown rendered from the running code: the configuration schemas
(``packgate.station.runtime.config.SCHEMA``, ``packgate.sync.hub.config.SCHEMA``), the click commands of
``packgate``, the three OpenAPI documents and the firmware profiles. An unknown NAME fails the build. Every value
taken from the code is escaped for Markdown tables (``|``) and HTML (``<``, ``>``, ``&``), so no help text can
break a table or inject markup.
"""
from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path
from typing import Any, Callable, Mapping

import click
from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"^<!--\s*packgate:generate\s+(?P<name>[a-z0-9-]+)(?:\s+(?P<arg>[a-z0-9.-]+))?\s*-->\s*$",
                    re.MULTILINE)


def cell(text: object) -> str:
    """Prose from the code as one table cell: HTML escaped, pipes escaped, one line."""
    return html.escape(" ".join(str(text).split()), quote=False).replace("|", "\\|")


def code(text: object) -> str:
    """A value as inline code inside a table cell (backticks that survive any content; a ``|`` inside a code span
    does not split a Python-Markdown table cell, so it stays as it is)."""
    value = str(text)
    fence = "``" if "`" in value else "`"
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


# --- configuration -----------------------------------------------------------------------------------------------

TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "list", dict: "table"}


def _type_name(typ: type | tuple[type, ...]) -> str:
    return " or ".join(TYPES.get(t, t.__name__) for t in (typ if isinstance(typ, tuple) else (typ,)))


def render_config(schema: Mapping[str, tuple], *, file: str, prefix: str) -> str:
    """One table per TOML section of ``schema``: key, type, default, meaning. Sections get the anchor
    ``{prefix}-{section}`` (``station-scale``), so pages can link to them."""
    from packgate.sync.common.settings import toml_value

    sections: dict[str, list[tuple[str, tuple]]] = {}
    for key, spec in schema.items():
        section = key.rsplit(".", 1)[0] if "." in key else key
        sections.setdefault(section, []).append((key, spec))
    out = []
    for section, rows in sections.items():
        out += [f"### `[{section}]` {{#{prefix}-{section.replace('_', '-')}}}", ""]
        out += [f"In `{file}`.", "", "| key | type | default | what it does |", "| --- | --- | --- | --- |"]
        for key, (typ, default, _check, meaning) in rows:
            out.append(f"| {code(key)} | {cell(_type_name(typ))} | {code(toml_value(default))} | {cell(meaning)} |")
        out.append("")
    return "\n".join(out)


def station_config() -> str:
    from packgate.station.runtime.config import SCHEMA

    return render_config(SCHEMA, file="packgate.toml", prefix="station")


def hub_config() -> str:
    from packgate.sync.hub.config import SCHEMA

    return render_config(SCHEMA, file="site.toml", prefix="hub")


# --- command line ------------------------------------------------------------------------------------------------

def command_paths(group: click.Group, prefix: str = "packgate") -> list[tuple[str, click.Command]]:
    """Every command and group under ``group``, depth first, in the order the CLI lists them."""
    found: list[tuple[str, click.Command]] = []
    for name in group.list_commands(click.Context(group)):
        command = group.get_command(click.Context(group), name)
        if command is None or command.hidden:
            continue
        path = f"{prefix} {name}"
        found.append((path, command))
        if isinstance(command, click.Group):
            found += command_paths(command, path)
    return found


def _param_row(param: click.Parameter, ctx: click.Context) -> str:
    if isinstance(param, click.Argument):
        names = code(param.human_readable_name)
    else:
        names = ", ".join(code(o) for o in [*param.opts, *param.secondary_opts])
    flag = isinstance(param, click.Option) and param.is_flag
    if isinstance(param.type, click.Choice):
        kind = " \\| ".join(code(c) for c in param.type.choices)
    elif flag:
        kind = "flag"
    else:
        kind = cell(param.type.name)
    default = param.get_default(ctx, call=False)
    unset = default is None or default == () or "UNSET" in repr(default) or callable(default)
    shown = "" if unset or (flag and not param.secondary_opts and default is False) else code(
        ("--" + param.name.replace("_", "-")) if flag and param.secondary_opts and default is True else default)
    required = "yes" if param.required else ""
    help_text = cell(getattr(param, "help", None) or "")
    return f"| {names} | {kind} | {required} | {shown} | {help_text} |"


def render_cli(root: click.Group, name: str = "packgate") -> str:
    """Every command of ``root``: a heading per command path (anchor = the path, e.g. ``packgate-device-read``),
    its help text, its usage line and a table of its arguments and options."""
    out = []
    root_ctx = click.Context(root, info_name=name)
    out += [f"### `{name}` {{#{name}}}", "", cell(root.help or ""), "", "```text", root.get_usage(root_ctx), "```", ""]
    out += _params_table(root)
    for path, command in command_paths(root, name):
        depth = path.count(" ")
        level = "#" * min(3 + depth - 1, 5)
        anchor = path.replace(" ", "-")
        ctx = click.Context(command, info_name=path)
        out += [f"{level} `{path}` {{#{anchor}}}", ""]
        out += [html.escape(inspect_help(command), quote=False), ""]
        out += ["```text", command.get_usage(ctx), "```", ""]
        if isinstance(command, click.Group):
            subs = [s for s, c in command_paths(command, path) if s.count(" ") == depth + 1]
            out += ["Subcommands: " + ", ".join(f"[`{s}`](#{s.replace(' ', '-')})" for s in subs), ""]
        out += _params_table(command)
    return "\n".join(out)


def inspect_help(command: click.Command) -> str:
    """The command's help as click shows it: the docstring up to ``\\f``, paragraphs kept."""
    text = (command.help or command.short_help or "").split("\f", 1)[0]
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "\n\n".join(paragraphs)


def _params_table(command: click.Command) -> list[str]:
    params = [p for p in command.params if not (isinstance(p, click.Option) and p.hidden)]
    if not params:
        return []
    ctx = click.Context(command)
    return ["| argument or option | type | required | default | meaning |", "| --- | --- | --- | --- | --- |",
            *(_param_row(p, ctx) for p in params), ""]


def cli_reference() -> str:
    from packgate.station.runtime.cli import cli

    return render_cli(cli)


# --- HTTP APIs ---------------------------------------------------------------------------------------------------

METHODS = ("get", "post", "put", "patch", "delete")


def operation_anchor(method: str, path: str) -> str:
    """``GET /api/v1/pda/picks/{order_id}`` -> ``get-api-v1-pda-picks-order_id``."""
    return method + "-" + "-".join(p for p in re.split(r"[^A-Za-z0-9_.]+", path) if p).replace(".", "_")


def _schema_type(schema: Mapping[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#schema-{name.lower()})"
    if "enum" in schema:
        return "one of " + ", ".join(code(json.dumps(v)) for v in schema["enum"])
    typ = schema.get("type", "any")
    typ = " or ".join(typ) if isinstance(typ, list) else typ
    if typ == "array" and isinstance(schema.get("items"), Mapping):
        return f"array of {_schema_type(schema['items'])}"
    return cell(typ)


def _constraints(schema: Mapping[str, Any]) -> str:
    keys = ("pattern", "minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems", "maxProperties",
            "default", "format")
    return ", ".join(f"{k} {code(schema[k] if isinstance(schema[k], str) else json.dumps(schema[k]))}"
                     for k in keys if k in schema)


def _fields(schema: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Rows of a field table for an object schema; nested objects as dotted names (``payload.grams``)."""
    rows = []
    required = set(schema.get("required", ()))
    for name, prop in (schema.get("properties") or {}).items():
        full = prefix + name
        meaning = " ".join(x for x in (cell(prop.get("description", "")), _constraints(prop)) if x)
        rows.append(f"| {code(full)} | {_schema_type(prop)} | {'yes' if name in required else ''} | {meaning} |")
        if prop.get("properties"):
            rows += _fields(prop, full + ".")
    return rows


def _schema_block(schema: Mapping[str, Any]) -> list[str]:
    if schema.get("properties"):
        return ["| field | type | required | meaning |", "| --- | --- | --- | --- |", *_fields(schema), ""]
    return [f"Type: {_schema_type(schema)}" + (f" — {cell(schema['description'])}" if schema.get("description") else ""), ""]


def _json_schema(content: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if not content:
        return None
    for media in content.values():
        if isinstance(media, Mapping) and media.get("schema"):
            return media["schema"]
    return None


def render_openapi(doc: Mapping[str, Any]) -> str:
    """An OpenAPI 3 document as Markdown: its description, one section per operation (anchor
    ``{method}-{path}``) with parameters, request body fields and responses, then the shared schemas."""
    info = doc.get("info", {})
    out = [f"*{cell(info.get('title', ''))}*, version {code(info.get('version', ''))} "
           f"(OpenAPI {code(doc.get('openapi', ''))}).", ""]
    if info.get("description"):
        out += [cell(info["description"]), ""]
    index = []
    for path, item in doc.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                index.append(f"| [`{method.upper()} {path}`](#{operation_anchor(method, path)}) | "
                             f"{cell(item[method].get('summary', ''))} |")
    out += ["| operation | what it does |", "| --- | --- |", *index, ""]
    for path, item in doc.get("paths", {}).items():
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            out += [f"### `{method.upper()} {path}` {{#{operation_anchor(method, path)}}}", ""]
            if op.get("summary"):
                out += [cell(op["summary"]), ""]
            if op.get("description"):
                out += [cell(op["description"]), ""]
            if "security" in op:
                schemes = ", ".join(code(name) for req in op["security"] for name in req) or "none"
                out += [f"Authentication: {schemes}.", ""]
            params = [*item.get("parameters", []), *op.get("parameters", [])]
            if params:
                out += ["| parameter | in | type | required | meaning |", "| --- | --- | --- | --- | --- |"]
                for p in params:
                    schema = p.get("schema", {})
                    meaning = " ".join(x for x in (cell(p.get("description", "")), _constraints(schema)) if x)
                    out.append(f"| {code(p['name'])} | {p.get('in', '')} | {_schema_type(schema)} | "
                               f"{'yes' if p.get('required') else ''} | {meaning} |")
                out.append("")
            body = _json_schema((op.get("requestBody") or {}).get("content"))
            if body is not None:
                out += ["**Request body** (JSON):", "", *_schema_block(body)]
            responses = op.get("responses", {})
            if responses:
                out += ["| answer | meaning | body |", "| --- | --- | --- |"]
                for status, response in responses.items():
                    schema = _json_schema(response.get("content"))
                    shape = _schema_type(schema) if schema is not None and "$ref" in schema else (
                        "JSON object" if schema is not None else "")
                    out.append(f"| {code(status)} | {cell(response.get('description', ''))} | {shape} |")
                out.append("")
    schemas = doc.get("components", {}).get("schemas", {})
    if schemas:
        out += ["### Schemas", ""]
        for name, schema in schemas.items():
            out += [f"#### `{name}` {{#schema-{name.lower()}}}", ""]
            if schema.get("description"):
                out += [cell(schema["description"]), ""]
            out += _schema_block(schema)
    return "\n".join(out)


def station_api() -> str:
    from packgate.station.web.openapi import OPENAPI

    return render_openapi(OPENAPI)


def hub_api() -> str:
    from packgate.sync.hub.openapi import openapi_document

    return render_openapi(openapi_document())


def upstream_api() -> str:
    from packgate.sync.upstream.openapi import openapi_document

    return render_openapi(openapi_document())


# --- firmware profiles -------------------------------------------------------------------------------------------

def _escaped(text: str) -> str:
    """Control characters as JSON escapes: ``SI\\r\\n``."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _mode(summary: Mapping[str, Any]) -> str:
    if summary["kind"] == "scale":
        if summary.get("mode") == "poll":
            return f"poll {code(_escaped(summary['poll']['command']))}"
        return cell(summary.get("mode", ""))
    if summary["kind"] == "printer":
        return f"{cell(summary['language'])}, status {code(_escaped(summary['status_query']))}"
    size = summary.get("size_mm")
    size_text = "×".join(str(x) for x in size) + " mm" if isinstance(size, (list, tuple)) else str(size or "")
    return cell(f"{summary.get('language', '')} {size_text}".strip())


def profiles_table() -> str:
    """Every firmware profile in ``firmware-profiles/`` by kind: name, vendor, models, serial defaults, mode."""
    from packgate.device.profiles import load_profiles

    profiles = load_profiles(ROOT / "firmware-profiles")
    out = []
    for kind in ("scale", "printer", "label"):
        chosen = sorted((p for p in profiles.values() if p.kind == kind), key=lambda p: p.name)
        if not chosen:
            continue
        out += [f"### {kind.capitalize()} profiles {{#profiles-{kind}}}", ""]
        out += ["| profile | vendor | models | serial | mode or language | file |", "| --- | --- | --- | --- | --- | --- |"]
        for profile in chosen:
            summary = profile.summary()
            serial = summary["serial"].get("label", "") if isinstance(summary.get("serial"), dict) else ""
            out.append(f"| {code(profile.name)} | {cell(profile.vendor)} | {cell(', '.join(profile.models))} | "
                       f"{cell(serial)} | {_mode(summary)} | {code('firmware-profiles/' + str(summary['file']))} |")
        out.append("")
    return "\n".join(out)


# --- code layout -------------------------------------------------------------------------------------------------

LAYERS = {"device": "packgate.device", "station": "packgate.station", "sync": "packgate.sync"}
DATA_FOLDERS = {"templates": "page templates (Jinja)", "static": "the pages' scripts and styles",
                "locale": "the translation catalogs (gettext .po, English and Simplified Chinese)",
                "system": "systemd units, udev rules and the kiosk autostart that `packgate install` writes"}


def _summary(path: Path) -> str:
    """The first sentence of a module's docstring."""
    import ast

    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    first = " ".join(doc.split("\n\n", 1)[0].split())
    return first


def code_layout() -> str:
    """Every package folder of device/, station/ and sync/ with its modules and what each holds (the first sentence
    of its docstring), read from the source tree."""
    out = []
    for folder, package in LAYERS.items():
        for directory in sorted(p for p in [ROOT / folder, *(ROOT / folder).rglob("*")] if p.is_dir()
                                and "__pycache__" not in p.parts and "locale" not in p.relative_to(ROOT).parts[1:-1]):
            rel = directory.relative_to(ROOT)
            modules = sorted(p for p in directory.glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
            init = directory / "__init__.py"
            if not modules and not init.exists():
                continue
            name = ".".join((package, *rel.parts[1:]))
            out += [f"### `{rel}/` — `{name}` {{#layout-{'-'.join(rel.parts)}}}", ""]
            if init.exists() and _summary(init):
                out += [cell(_summary(init)), ""]
            rows = [f"| {code(p.name)} | {cell(_summary(p))} |" for p in modules]
            rows += [f"| {code(d.name + '/')} | {cell(DATA_FOLDERS.get(d.name, 'data files'))} |"
                     for d in sorted(directory.iterdir()) if d.is_dir() and not (d / "__init__.py").exists()
                     and not list(d.glob("*.py")) and d.name != "__pycache__"]
            if rows:
                out += ["| file | what it holds |", "| --- | --- |", *rows, ""]
    return "\n".join(out)


def profile_file(name: str) -> str:
    """One firmware profile file as it is, in a TOML code block."""
    path = ROOT / "firmware-profiles" / f"{name}.toml"
    if not path.is_file():
        raise PluginError(f"no firmware profile file {path.relative_to(ROOT)}")
    return f"```toml title=\"firmware-profiles/{path.name}\"\n{path.read_text(encoding='utf-8').rstrip()}\n```\n"


def walkthrough(which: str) -> str:
    """A demo walkthrough as numbered steps, from the same list the browser test walks (tests/e2e/walkthroughs.py):
    a change of the demo that breaks a step breaks the test, and the page never drifts from it."""
    import importlib.util

    import packgate.station

    path = ROOT / "tests" / "e2e" / "walkthroughs.py"
    if not path.is_file():  # a copy of the pages built elsewhere: the checkout packgate runs from
        path = Path(packgate.station.__path__[0]).parent / "tests" / "e2e" / "walkthroughs.py"
    spec = importlib.util.spec_from_file_location("walkthroughs", path)
    if spec is None or spec.loader is None:
        raise PluginError("tests/e2e/walkthroughs.py cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while they are made
    spec.loader.exec_module(module)
    steps = {"site": module.ACROSS_THE_SITE, "table": module.AT_ONE_TABLE, "returns": module.RETURNS}.get(which)
    if steps is None:
        raise PluginError(f"no walkthrough {which!r} (site, table, returns)")
    return "\n".join(f"{n}. {step.says}" for n, step in enumerate(steps, 1)) + "\n"


GENERATORS: dict[str, Callable[[], str]] = {
    "station-config": station_config,
    "hub-config": hub_config,
    "cli": cli_reference,
    "station-api": station_api,
    "hub-api": hub_api,
    "upstream-api": upstream_api,
    "profiles": profiles_table,
    "code-layout": code_layout,
}
#: generated sections that take one argument: ``<!-- packgate:generate profile-file mettler-mt-sics -->``
WITH_ARGUMENT: dict[str, Callable[[str], str]] = {"profile-file": profile_file, "walkthrough": walkthrough}


def on_page_markdown(markdown: str, page: Any, **_kwargs: Any) -> str:
    def generate(match: re.Match[str]) -> str:
        name, arg = match["name"], match["arg"]
        if arg is not None and name in WITH_ARGUMENT:
            return WITH_ARGUMENT[name](arg)
        if arg is None and name in GENERATORS:
            return GENERATORS[name]()
        raise PluginError(f"{page.file.src_path}: no generated section {match.group(0).strip()!r} (known: "
                          f"{', '.join(sorted(GENERATORS))}; with an argument: {', '.join(sorted(WITH_ARGUMENT))})")

    return MARKER.sub(generate, markdown)
