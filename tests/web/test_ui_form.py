"""The web UI's form asks in the words of rembg's HTTP API as the options' table declares it:
every field it names or sends is a field of /api/remove, and its menus offer exactly the
table's choices (a choice added to the table, or a field renamed, fails here)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import web
from u2net.options import option
from web.rembg_params import BG_IMAGE_FIELD, OPTION_FIELDS

STATIC = Path(web.__file__).parent / "static"
API_FIELDS = {*OPTION_FIELDS, BG_IMAGE_FIELD}


class _Form(HTMLParser):
    """The named controls, and each menu's option values by the menu's id."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self.menus: dict[str, list[str]] = {}
        self.menu: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in ("input", "select") and found.get("name"):
            self.names.append(found["name"] or "")
        if tag == "select":
            self.menu = found.get("id")
            self.menus[self.menu or ""] = []
        elif tag == "option" and self.menu is not None:
            self.menus[self.menu].append(found.get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self.menu = None


def form() -> _Form:
    parsed = _Form()
    parsed.feed((STATIC / "index.html").read_text())
    return parsed


def test_every_named_control_is_a_field_of_rembgs_api() -> None:
    names = form().names
    assert names and set(names) <= API_FIELDS, set(names) - API_FIELDS


def test_the_format_and_edge_menus_offer_the_tables_choices() -> None:
    menus = form().menus
    assert menus["format"] == list(option("fmt").choices)
    assert menus["composite"] == list(option("composite").choices)


def test_every_field_the_page_sends_with_a_photo_is_a_field_of_rembgs_api() -> None:
    script = (STATIC / "app.js").read_text()
    body = script[
        script.index("function options(") : script.index("\n}\n", script.index("function options("))
    ]
    sent = set(re.findall(r'fields\.append\("(\w+)"', body))
    sent |= {
        flag
        for group in re.findall(r"for \(const flag of \[([^\]]*)\]", body)
        for flag in re.findall(r'"(\w+)"', group)
    }
    assert {"model", "format", "om", "bgc", BG_IMAGE_FIELD} <= sent
    assert sent <= API_FIELDS, sent - API_FIELDS
