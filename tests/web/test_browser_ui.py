"""The web UI as a tool, in a real headless Chromium against the real gateway and Triton: grouped
options that fit a phone, each result's server time and size, batch progress, the large view
(zoom, pan, the slider on the image, backdrops, keyboard), axe-core in three states, and an A/B
of two models whose agreement equals ``python -m client ab``'s."""

from __future__ import annotations

import base64
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.load.ab import run_ab
from tests.data import PHOTOS
from tests.web.browser import (
    DESKTOP,
    NEEDS_CHROMIUM,
    PHONE,
    axe_violations,
    chromium,
    downloaded,
    emptied,
    set_viewport,
    wait_for,
)
from tests.web.serving import Served, config_for, serve
from u2net.image.io import DEFAULT_MAX_PIXELS
from u2net.repository.layout import REPOSITORY_ENV

pytestmark = NEEDS_CHROMIUM
ROCKET, CHELSEA = PHOTOS[3], PHOTOS[1]  # 640×427 JPEG, 451×300 PNG


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("downloads")) as driver:
        yield driver


@pytest.fixture
def browser(driver: Any) -> Any:
    set_viewport(driver, DESKTOP)
    return emptied(driver)


def by_css(root: Any, selector: str) -> Any:
    from selenium.webdriver.common.by import By

    return root.find_element(By.CSS_SELECTOR, selector)


def all_css(root: Any, selector: str) -> list:
    from selenium.webdriver.common.by import By

    return root.find_elements(By.CSS_SELECTOR, selector)


def choose(browser: Any, select_id: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(by_css(browser, f"#{select_id}")).select_by_value(value)


def finished(browser: Any, count: int) -> list:
    """The result cards, once ``count`` of them are done or failed."""

    def states(d: Any) -> list | None:
        cards = all_css(d, "#results .item")
        done = [c.get_attribute("data-state") in ("done", "failed") for c in cards]
        return cards if len(cards) == count and all(done) else None

    return wait_for(browser, states)


def open_large_view(browser: Any, button: Any) -> Any:
    button.click()
    return wait_for(browser, lambda d: by_css(d, "#viewer[data-ready]"))


def script(browser: Any, text: str, *args: Any) -> Any:
    return browser.execute_script(text, *args)


DROP = """const dropped = new DataTransfer();
for (const [name, type, text] of arguments[0]) {
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  dropped.items.add(new File([bytes], name, {type}));
}
const zone = document.querySelector('#drop');
for (const kind of ['dragenter', 'dragover', 'drop']) {
  zone.dispatchEvent(new DragEvent(kind, {dataTransfer: dropped, bubbles: true, cancelable: true}));
}"""
TYPES = {".jpg": "image/jpeg", ".png": "image/png"}


def drop(browser: Any, *photos: Path) -> None:
    """Drop ``photos`` on the drop zone, as a file manager does (a drag event's files)."""
    files = [[p.name, TYPES[p.suffix], base64.b64encode(p.read_bytes()).decode()] for p in photos]
    script(browser, DROP, files)


TOO_SMALL = """
return [...document.querySelectorAll('button, select, summary, .drop, .options label.check')]
  .filter((e) => e.offsetParent !== null)
  .map((e) => [e.id || e.className || e.tagName, e.getBoundingClientRect()])
  .filter(([, r]) => r.height < 44)
  .map(([name, r]) => `${name}: ${Math.round(r.height)} px`);
"""


FOCUS_RING = """const s = getComputedStyle(document.activeElement);
return [document.activeElement.id || document.activeElement.tagName, s.outlineStyle,
        parseFloat(s.outlineWidth)];"""


def unmarked_focus(browser: Any, stops: int) -> list:
    """The first ``stops`` tab stops that show no focus ring (at least 2 px)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    unmarked = []
    for _ in range(stops):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        name, style, width = script(browser, FOCUS_RING)
        if style == "none" or width < 2:
            unmarked.append(name)
    return unmarked


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280px", "390px"])
def test_the_empty_page_fits_with_touch_sized_targets_and_no_serious_axe_violation(
    browser, gateway, size
) -> None:
    """The options are grouped (model, output, background, advanced); at 1280 px they sit
    beside the work, at 390 px above it; nothing is wider than the screen."""
    set_viewport(browser, size, mobile=size == PHONE)
    browser.get(gateway.url)
    legends = [e.get_attribute("textContent") for e in all_css(browser, "#options legend")]
    assert legends[:3] == ["Model and quality", "Output", "Background"]
    assert by_css(browser, "#advanced summary").text == "Advanced"
    assert script(browser, "return document.documentElement.scrollWidth") <= size[0]
    options = by_css(browser, "#options").rect
    drop = by_css(browser, "#drop").rect
    beside = options["x"] + options["width"] <= drop["x"]
    assert beside == (size == DESKTOP)
    assert script(browser, TOO_SMALL) == []
    assert unmarked_focus(browser, 12) == []
    assert axe_violations(browser) == []


MENU = """return [...document.querySelector(arguments[0]).options]
  .map((o) => [o.value, o.textContent, o.disabled]);"""


def test_both_model_menus_list_the_custom_models_staged_here(
    browser, gateway, http, tmp_path, monkeypatch
) -> None:
    """After the catalogue's, from /api/models; never greyed out, though /readyz lists a custom
    model only once a request named it (u2net, not loaded here, is)."""
    folder = tmp_path / "mine_onnx" / "1"
    folder.mkdir(parents=True)
    manifest = {"model": "mine", "family": "isnet", "custom": True}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv(REPOSITORY_ENV, str(tmp_path))
    wait_for(http, lambda h: "models" in h.get("/readyz").json()["triton"], 30)  # a probe's
    browser.get(gateway.url)
    wait_for(browser, lambda d: not by_css(d, "#model option[value=u2net]").is_enabled(), 30)
    for menu in ("#model", "#model-b"):
        options = script(browser, MENU, menu)
        assert options[-1] == ["mine", "mine (custom, isnet family)", False], menu
        enabled = {value: not disabled for value, _, disabled in options}
        assert (enabled["u2netp"], enabled["u2net"]) == (True, False)


SPLIT = "return getComputedStyle(document.querySelector('.over')).clipPath"
BACKDROP = """const s = getComputedStyle(document.querySelector('#stage .over'));
return [s.backgroundColor, s.backgroundImage];"""


def test_two_photos_times_sizes_large_view_backdrops_and_zip(browser, gateway, http) -> None:
    """Two photos dropped with WebP chosen under Output: each card shows its server time and size,
    the batch its progress; the large view zooms to 100 %, pans, moves its slider with the
    keyboard, changes backdrop and closes on Esc; the zip holds both WebP files."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    browser.get(gateway.url)
    choose(browser, "model", "u2netp")
    choose(browser, "format", "webp")
    drop(browser, ROCKET, CHELSEA)
    cards = finished(browser, 2)
    assert [c.get_attribute("data-state") for c in cards] == ["done", "done"]
    batch = by_css(browser, "#batch")
    assert (batch.get_attribute("value"), batch.get_attribute("max")) == ("2", "2")
    assert "2 done, 0 failed" in by_css(browser, "#summary").text
    variant = by_css(cards[0], ".variant")
    wait_for(browser, lambda d: "640×427" in by_css(variant, ".meta").text)
    meta = by_css(variant, ".meta").text
    assert re.fullmatch(r"(\d+ ms|\d+\.\d\d s) on the server · \d+ kB · 640×427", meta), meta
    server_ms = float(variant.get_attribute("data-server-ms"))
    assert 0 < server_ms < 120_000

    open_large_view(browser, by_css(cards[0], ".open"))
    by_css(browser, "#zoom-100").click()
    assert by_css(browser, "#zoom-level").text == "100 %"
    over = by_css(browser, "#over")
    assert round(over.rect["width"]) == 640 and round(over.rect["height"]) == 427
    before = over.rect
    stage = by_css(browser, "#stage")  # a drag away from the slider's handle (in the middle) pans
    drag = ActionChains(browser).move_to_element_with_offset(stage, -200, 0).click_and_hold()
    drag.move_by_offset(-120, -60).release().perform()
    moved = by_css(browser, "#over").rect
    assert (round(moved["x"] - before["x"]), round(moved["y"] - before["y"])) == (-120, -60)
    for _ in range(5):
        ActionChains(browser).send_keys(Keys.ARROW_LEFT).perform()
    assert by_css(browser, "#handle").get_attribute("aria-valuenow") == "40"
    assert script(browser, SPLIT) == "inset(0px 0px 0px 40%)"

    assert "linear-gradient" in script(browser, BACKDROP)[1]  # the checkerboard by default
    by_css(browser, "[data-backdrop=black]").click()
    assert script(browser, BACKDROP) == ["rgb(0, 0, 0)", "none"]
    script(browser, "const c = document.querySelector('#backdrop-colour'); c.value = '#336699';"
                    "c.dispatchEvent(new Event('input', {bubbles: true}));")  # fmt: skip
    assert script(browser, BACKDROP) == ["rgb(51, 102, 153)", "none"]
    assert axe_violations(browser) == []  # the large view open
    ActionChains(browser).send_keys(Keys.ESCAPE).perform()
    wait_for(browser, lambda d: not by_css(d, "#viewer").get_attribute("open"))
    assert axe_violations(browser) == []  # with results

    by_css(browser, "#download-all").click()
    with zipfile.ZipFile(downloaded(browser, "cutouts.zip")) as archive:
        assert sorted(archive.namelist()) == ["chelsea.out.webp", "rocket.out.webp"]
        rocket = archive.read("rocket.out.webp")
    assert rocket[:4] == b"RIFF" and rocket[8:12] == b"WEBP"
    assert len(rocket) == int(variant.get_attribute("data-bytes"))


@pytest.fixture(scope="module")
def ab_gateway(both_models_server) -> Iterator[Served]:
    with serve(config_for(both_models_server.grpc_url)) as served:
        yield served


def client_ab(server: Any, photo: Path, a: str, b: str) -> dict:
    """``python -m client ab A B PHOTO --no-floor --requests 1 --concurrency 1 --json``'s
    agreement for the photo, from the function the command runs (in-process: no second
    interpreter to start)."""
    report = run_ab(server.grpc_url, a, b, [photo], concurrency=1, requests=1,
                    timeout_s=120, max_pixels=DEFAULT_MAX_PIXELS, floor=False)  # fmt: skip
    return report.as_dict()["agreement"]["per_image"][0]


AGREEMENT = re.compile(r"IoU (\d\.\d{4}), mean \|Δ\| (\d+\.\d\d) grey levels \(max (\d+)\)")
DIFFERENT_PIXELS = """const c = document.querySelector('#diff');
const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
let n = 0; for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++; return n;"""


@pytest.mark.slow
def test_ab_of_two_models_shows_client_abs_agreement(browser, ab_gateway, both_models_server):
    """u2net (A) against u2netp (B) on one photo: both cut-outs with their times, the
    agreement as ``python -m client ab`` prints it, and a difference view that marks pixels."""
    browser.get(ab_gateway.url)
    wait_for(browser, lambda d: by_css(d, "#model option[value=u2net]").is_enabled(), 30)
    by_css(browser, "#ab").click()
    choose(browser, "model", "u2net")
    choose(browser, "model-b", "u2netp")
    by_css(browser, "#files").send_keys(str(CHELSEA))
    (card,) = finished(browser, 1)
    assert card.get_attribute("data-state") == "done", by_css(card, ".state").text
    variants = all_css(card, ".variant")
    assert [by_css(v, ".model-name").text for v in variants] == ["A: u2net", "B: u2netp"]
    assert all(float(v.get_attribute("data-server-ms")) > 0 for v in variants)
    shown = AGREEMENT.search(by_css(card, ".agreement").text)
    assert shown, by_css(card, ".agreement").text
    expected = client_ab(both_models_server, CHELSEA, "u2net", "u2netp")
    assert float(shown[1]) == pytest.approx(expected["iou"], abs=5e-5)
    assert float(shown[2]) == pytest.approx(expected["mean_abs_diff"], abs=5e-3)
    assert int(shown[3]) == expected["max_abs_diff"]
    assert expected["iou"] < 1  # two models that differ: the numbers say something

    open_large_view(browser, by_css(card, ".open-diff"))
    assert by_css(browser, "[data-view=diff]").get_attribute("aria-pressed") == "true"
    assert script(browser, DIFFERENT_PIXELS) > 0
