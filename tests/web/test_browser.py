"""The web UI in a real headless Chromium (Debian's ``chromium`` + ``chromium-driver``; no
browser is downloaded): upload real photos, wait for the previews, download and compare with
``python -m client cut``; a bad file shows its reason while the others carry on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.data import PHOTOS
from tests.web.browser import NEEDS_CHROMIUM, chromium, emptied
from tests.web.conftest import cli_cut
from u2net.catalogue import REQUEST_NAMES

pytestmark = NEEDS_CHROMIUM


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Chromium for the module (each test loads the page afresh)."""
    with chromium(tmp_path_factory.mktemp("downloads"), (1280, 1400)) as driver:
        yield driver


@pytest.fixture
def browser(driver: Any) -> Any:
    return emptied(driver)


def wait_for(predicate, timeout: float = 120.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(None, timeout, poll_frequency=0.1).until(lambda _: predicate())


def items(driver) -> list:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, "#results .item")


def test_upload_preview_download_equals_the_cli(browser, gateway, triton_server, tmp_path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    photos = [PHOTOS[3], PHOTOS[1]]  # rocket.jpg, chelsea.png
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo\n")
    browser.get(gateway.url)
    Select(browser.find_element(By.ID, "model")).select_by_value("u2netp")
    picker = browser.find_element(By.ID, "files")
    picker.send_keys("\n".join(str(p) for p in [photos[0], bad, photos[1]]))
    wait_for(
        lambda: (
            all(i.get_attribute("data-state") in ("done", "failed") for i in items(browser))
            and len(items(browser)) == 3
        )
    )
    states = [i.get_attribute("data-state") for i in items(browser)]
    assert states == ["done", "failed", "done"]
    failed = items(browser)[1]
    assert "not an image" in failed.find_element(By.CSS_SELECTOR, ".state").text
    assert not failed.find_element(By.CSS_SELECTOR, "a.download").is_displayed()
    first = items(browser)[0]
    preview = first.find_element(By.CSS_SELECTOR, ".after")
    assert wait_for(lambda: browser.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth", preview)) == 640  # fmt: skip
    first.find_element(By.CSS_SELECTOR, "a.download").click()
    downloaded = wait_for(lambda: next(browser.downloads.glob("rocket.out.png"), None))
    wait_for(lambda: not list(browser.downloads.glob("*.crdownload")))
    assert downloaded.read_bytes() == cli_cut(triton_server, photos[0], tmp_path / "cli.png")
    browser.find_element(By.ID, "download-all").click()
    archive = wait_for(lambda: next(browser.downloads.glob("cutouts.zip"), None))
    wait_for(lambda: not list(browser.downloads.glob("*.crdownload")))
    import zipfile

    with zipfile.ZipFile(archive) as z:
        assert sorted(z.namelist()) == ["chelsea.out.png", "rocket.out.png"]
        assert z.read("rocket.out.png") == downloaded.read_bytes()


UNLABELLED_CONTROLS = """
return [...document.querySelectorAll('input, select, button, textarea')]
  .filter((c) => c.type !== 'hidden')
  .filter((c) => !(c.labels && c.labels.length) && !c.getAttribute('aria-label')
                 && !(c.tagName === 'BUTTON' && c.textContent.trim()))
  .map((c) => c.outerHTML);
"""


def test_controls_are_labelled_and_the_drop_zone_is_a_tab_stop(browser, gateway) -> None:
    """Every control has a label; Tab reaches the drop zone (a button named by its text) and
    never the hidden file input behind it."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    browser.get(gateway.url)
    assert browser.execute_script(UNLABELLED_CONTROLS) == []
    stops = []
    for _ in range(30):
        ActionChains(browser).send_keys(Keys.TAB).perform()  # to whatever has the focus
        stops.append(browser.switch_to.active_element)
    ids = [e.get_attribute("id") for e in stops]
    assert "drop" in ids and "files" not in ids
    drop = stops[ids.index("drop")]
    assert drop.get_attribute("role") == "button" and "choose files" in drop.text


def test_choosing_jpeg_turns_the_background_colour_on(browser, gateway) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    browser.get(gateway.url)
    use_colour = browser.find_element(By.ID, "use-bgc")
    assert not use_colour.is_selected()
    Select(browser.find_element(By.ID, "format")).select_by_value("jpg")
    assert use_colour.is_selected()


def test_only_the_mask_turns_the_background_and_shadow_off(browser, gateway) -> None:
    """The API refuses a mask with a background or shadow, so the page does not offer one."""
    from selenium.webdriver.common.by import By

    browser.get(gateway.url)
    controls = ["use-bgc", "bg-image", "shadow"]
    assert all(browser.find_element(By.ID, c).is_enabled() for c in controls)
    browser.find_element(By.ID, "om").click()
    assert not any(browser.find_element(By.ID, c).is_enabled() for c in controls)
    browser.find_element(By.ID, "om").click()
    assert all(browser.find_element(By.ID, c).is_enabled() for c in controls)


@pytest.mark.parametrize("mode", ["rembg", "straight"])
def test_the_edges_choice_reaches_the_request(browser, gateway, triton_server, tmp_path, mode):
    """Choosing a compositing mode under "Edges": the download is the CLI's cut in that mode
    (and not its default, clean)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    photo = PHOTOS[1]  # chelsea.png
    browser.get(gateway.url)
    Select(browser.find_element(By.ID, "model")).select_by_value("u2netp")
    Select(browser.find_element(By.ID, "composite")).select_by_value(mode)
    assert browser.find_element(By.ID, "composite-help").text  # the choice is explained
    browser.find_element(By.ID, "files").send_keys(str(photo))
    wait_for(lambda: [i.get_attribute("data-state") for i in items(browser)] == ["done"])
    items(browser)[0].find_element(By.CSS_SELECTOR, "a.download").click()
    downloaded = wait_for(lambda: next(browser.downloads.glob("chelsea.out.png"), None))
    wait_for(lambda: not list(browser.downloads.glob("*.crdownload")))
    expected = cli_cut(triton_server, photo, tmp_path / "cli.png", "--composite", mode)
    assert downloaded.read_bytes() == expected
    assert expected != cli_cut(triton_server, photo, tmp_path / "clean.png")


def test_the_background_photo_and_shadow_reach_the_request(
    browser, gateway, triton_server, tmp_path
):
    """Picking a background photo (the colour is switched off) and ticking the drop shadow:
    the download is the CLI's cut with --bg-image and --shadow."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    photo, background = PHOTOS[3], PHOTOS[2]  # rocket.jpg over coffee.png
    browser.get(gateway.url)
    Select(browser.find_element(By.ID, "model")).select_by_value("u2netp")
    browser.find_element(By.ID, "use-bgc").click()
    browser.find_element(By.ID, "bg-image").send_keys(str(background))
    assert not browser.find_element(By.ID, "use-bgc").is_selected()  # one background at a time
    browser.find_element(By.ID, "shadow").click()
    browser.find_element(By.ID, "files").send_keys(str(photo))
    wait_for(lambda: [i.get_attribute("data-state") for i in items(browser)] == ["done"])
    items(browser)[0].find_element(By.CSS_SELECTOR, "a.download").click()
    downloaded = wait_for(lambda: next(browser.downloads.glob("rocket.out.png"), None))
    wait_for(lambda: not list(browser.downloads.glob("*.crdownload")))
    flags = ("--bg-image", str(background), "--shadow")
    assert downloaded.read_bytes() == cli_cut(triton_server, photo, tmp_path / "cli.png", *flags)


def test_models_the_server_has_not_loaded_are_greyed_out(browser, gateway, http) -> None:
    """The session's Triton serves u2netp only: the menu keeps every name but greys out the
    others, and moves the choice off the greyed-out default."""
    from selenium.webdriver.common.by import By

    wait_for(lambda: "models" in http.get("/readyz").json()["triton"], timeout=30)
    browser.get(gateway.url)
    menu = browser.find_element(By.ID, "model")

    def enabled() -> dict[str, bool]:
        options = menu.find_elements(By.TAG_NAME, "option")
        return {o.get_attribute("value"): o.is_enabled() for o in options}

    wait_for(lambda: not enabled()["u2net"], timeout=30)
    assert enabled() == {name: name == "u2netp" for name in REQUEST_NAMES}
    assert menu.get_attribute("value") == "u2netp"
