"""HTML through Jinja2: autoescaped templates, control characters shown escaped, and the
local assets (style sheet, chart script, Plotly) that pages link and reports inline."""

from __future__ import annotations

import functools
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from cli.render import shown

# every asset a page may load, all from this server (``/static/NAME``)
ASSETS = {
    "style.css": "text/css; charset=utf-8",
    "charts.js": "text/javascript; charset=utf-8",
    "plotly.min.js": "text/javascript; charset=utf-8",
}


def _finalize(value: Any) -> Any:
    """Every string a template prints, with control characters and invisible marks shown
    as visible escapes (autoescape then handles the HTML); markup (``tojson``) as it is."""
    if value is None:
        return ""
    if isinstance(value, str) and not isinstance(value, Markup):
        return shown(value)
    return value


def number(value: int | None, missing: str = "unknown") -> str:
    """A count with thousands separators (``46,336``); None as ``missing``."""
    return missing if value is None else f"{value:,}"


def stamp(value: datetime | str | None) -> str:
    """A system-time instant to the second, in UTC (``2026-11-27 18:00:05 UTC``)."""
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def web_link(url: object) -> str | None:
    """A source's URL if it is one a reader may follow (http or https), else None: a
    ``javascript:`` or ``data:`` URL never becomes a link."""
    if not isinstance(url, str):
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None


def query(**params: object) -> str:
    """``?a=1&b=2`` of the parameters that are set (empty when none is)."""
    given = {k: str(v) for k, v in params.items() if v not in (None, "")}
    return "?" + urlencode(given) if given else ""


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("cli.http", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(number=number, stamp=stamp, web_link=web_link)
    env.globals.update(query=query, inline_script=inline_script, inline_style=inline_style)
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


@functools.cache
def asset(name: str) -> bytes:
    """A local asset's bytes: Plotly's bundle from the installed ``plotly`` package, the
    others from this package's ``static`` folder (KeyError for any other name)."""
    if name not in ASSETS:
        raise KeyError(name)
    if name == "plotly.min.js":
        return resources.files("plotly").joinpath("package_data", name).read_bytes()
    return resources.files("cli.http").joinpath("static", name).read_bytes()


def inline_script(name: str) -> Markup:
    """A script's text for a ``<script>`` element of a self-contained file (a closing
    tag inside it could not end the element early)."""
    text = asset(name).decode("utf-8")
    return Markup(text.replace("</script", "<\\/script").replace("<!--", "<\\!--"))


def inline_style(name: str) -> Markup:
    return Markup(asset(name).decode("utf-8").replace("</style", "<\\/style"))
