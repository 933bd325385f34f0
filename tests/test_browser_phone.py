"""The page at a phone's size (390x844) and at 1280x900 in Debian's headless Chromium: every tab one tap
away, the grid in view while it draws, and the small things a visitor meets."""


import pytest

from .browser_helpers import ARTIFACTS, WAIT, open_page, status_has


@pytest.fixture
def phone(browser, server):  # noqa: F811
    page = open_page(browser, server, 390, 844)
    yield page
    page.close()


def test_on_a_phone_every_tab_is_one_tap_away_and_the_grid_is_in_view_while_it_draws(phone):
    for tab in ("By class", "Sketch", "Complete", "Portrait", "Auto-encoder", "Inspect"):
        assert phone.get_by_role("tab", name=tab).is_visible(), f"{tab} is hidden behind a menu"
    phone.locator("#generate").scroll_into_view_if_needed()
    start = phone.locator("#canvas").bounding_box()["height"]
    phone.evaluate("() => { window.heights = []; const grid = document.querySelector('#canvas');"  # the grid's height on every frame the page paints
                   " const tick = () => { window.heights.push(grid.getBoundingClientRect().height); requestAnimationFrame(tick); }; tick(); }")
    phone.click("#generate")
    status_has(phone, "#status", "Drawing")
    phone.wait_for_function("(height) => { const b = document.querySelector('#canvas')?.getBoundingClientRect();"
                            " return !!b && b.top >= -1 && b.top + 0.75 * b.height <= height; }", arg=844, timeout=WAIT)  # the page scrolls the grid into view
    phone.wait_for_timeout(1000)  # ... and it stays there
    assert min(phone.evaluate("window.heights")) >= start - 1, "the grid shrank as its first frame came (the page jumps under a scroll)"
    box = phone.locator("#canvas").bounding_box()
    assert box is not None and box["y"] >= -1 and box["y"] + 0.75 * box["height"] <= 844, box
    phone.screenshot(path=str(ARTIFACTS / "phone-drawing.png"))
    label = phone.locator("#canvas").locator("label, [data-testid='block-label']")
    assert label.count() == 0 or not label.first.is_visible()  # no label over the top row


@pytest.mark.parametrize("size", [(1280, 900), (390, 844)])
def test_small_things_a_visitor_meets(browser, server, size):
    """At a desktop's and a phone's size: every pad starts with its brush picked, its label clear of
    its toolbar, the Sketch tab's class fits its dropdown, and the portrait examples are in view at
    1280x900."""
    page = open_page(browser, server, *size)
    page.get_by_role("tab", name="Sketch").click()
    page.wait_for_function("() => document.querySelector('#sketch-pad button[aria-label=\"Brush\"]')?.dataset.picked === 'yes'", timeout=WAIT)
    assert "select the draw tool" not in page.inner_text("#sketch-pad")
    label = page.locator("#sketch-pad [data-testid='block-label']").bounding_box()
    toolbar = page.locator("#sketch-pad button[aria-label='Pan']").bounding_box()
    assert label["x"] + label["width"] <= toolbar["x"], (label, toolbar)
    fits = page.evaluate("() => { const input = document.querySelector('#sketch-class input'); return input.scrollWidth <= input.clientWidth; }")
    assert fits, "the class runs under the dropdown's arrow"
    page.screenshot(path=str(ARTIFACTS / f"sketch-{size[0]}.png"))
    if size[0] >= 768:
        page.get_by_role("tab", name="Portrait").click()
        page.locator("#portrait-upload ~ * img, .gallery img").first.wait_for(state="visible", timeout=WAIT)
        thumbnail = page.locator("#portrait-upload ~ * img, .gallery img").first.bounding_box()
        assert thumbnail is not None and thumbnail["y"] + thumbnail["height"] <= size[1], thumbnail
        page.screenshot(path=str(ARTIFACTS / "portrait-examples.png"))
    page.close()
