"""The web UI's model menu follows the catalogue: every name a request may give, no other."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import web
from u2net.catalogue import MODEL_LABELS, REQUEST_NAMES

INDEX = Path(web.__file__).parent / "static" / "index.html"


class _ModelOptions(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.values: list[str] = []
        self.labels: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "select":
            self.inside = dict(attrs).get("id") == "model"
        elif tag == "option" and self.inside:
            self.values.append(dict(attrs).get("value") or "")
            self.labels.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self.inside = False

    def handle_data(self, data: str) -> None:
        if self.inside and self.labels:
            self.labels[-1] += data


def test_the_model_menu_lists_the_catalogues_names_with_their_measured_trade_off() -> None:
    menu = _ModelOptions()
    menu.feed(INDEX.read_text())
    assert menu.values == list(REQUEST_NAMES)
    assert [label.strip() for label in menu.labels] == [MODEL_LABELS[v] for v in menu.values]
