"""Stop in Debian's headless Chromium: the status line says where a drawing stopped, and a press right
after Stop starts a new drawing on every drawing tab."""

import io

import numpy as np
import pytest
from PIL import Image

from .browser_helpers import ARTIFACTS, WAIT, status_has
from .browser_helpers import upload as upload_file
from .helpers import EXAMPLES


def test_a_new_drawing_starts_at_once_after_stop_in_either_stage(page):
    """Stop in the sketch stage, then in the detail stage: each time the next press draws anew
    (a cancelled stream can leave that press ignored: see serving.stoppable)."""
    for stage in ("Drawing the sketch", "Drawing the detail", "Drawing the sketch", "Drawing the detail"):
        page.click("#generate")
        status_has(page, "#status", stage)
        page.click("#stop")
        status_has(page, "#status", "Stopped at")
    page.click("#generate")
    status_has(page, "#status", "Drawing")
    status_has(page, "#status", "Done")


STATUS_LOG = """(sel) => { window.__status = []; const note = () => { const t = document.querySelector(sel)?.innerText || '';
  if (window.__status[window.__status.length - 1] !== t) window.__status.push(t); };
  new MutationObserver(note).observe(document.body, {subtree: true, childList: true, characterData: true}); }"""


PRESS_TABS = {"By class": ("#generate", "#stop", "#status", "#canvas", None),
              "Complete": ("#complete", "#complete-stop", "#complete-status", "#complete-canvas", ("#complete-upload", "mnist-test-3.png")),
              "Auto-encoder": ("#autoencode", "#autoencode-stop", "#autoencoder-status", "#autoencoder-canvas",
                               ("#autoencoder-upload", "mnist-test-7.png")),
              "Sketch": ("#sketch", "#sketch-stop", "#sketch-status", "#sketch-canvas", ("#sketch-upload", "mnist-test-5.png")),
              "Portrait": ("#portraits", "#portraits-stop", "#portrait-status", "#portrait-canvas", ("#portrait-upload", "orl-s1-held-out.png"))}


@pytest.mark.parametrize("tab", PRESS_TABS)
def test_a_press_at_once_after_stop_starts_a_new_drawing(page, tab):
    """Stop, then the drawing button at once (no pause): every press draws anew, 10 times on each of the
    five drawing tabs (Gradio's default trigger mode drops a press that comes while the stopped drawing is still ending)."""
    go, stop, status, canvas, upload = PRESS_TABS[tab]
    page.get_by_role("tab", name=tab).click()
    if upload:
        upload_file(page, upload[0], EXAMPLES / upload[1])
    page.evaluate(STATUS_LOG, status)
    page.click(go)
    for press in range(10):
        status_has(page, status, "Drawing")
        page.evaluate("() => { window.__status = []; }")
        page.click(stop)
        page.click(go)  # at once
        # Answered: the drawing ends (stopped, or done if it finished before Stop reached the server), then a new one draws.
        page.wait_for_function("() => { const s = window.__status, k = s.findIndex(t => /^(Stopped at|Done)/.test(t));"
                               " return k >= 0 && s.slice(k + 1).some(t => t.startsWith('Drawing')); }", timeout=WAIT)
    page.click(stop)
    page.wait_for_function("(sel) => /^(Stopped at|Done)/.test(document.querySelector(sel)?.innerText || '')", arg=status, timeout=WAIT)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(ARTIFACTS / f"stopped-{tab.lower().replace(' ', '-')}.png"))
    # The grid shows no cursor (orange) once it stopped: only drawn and not-yet-drawn (dark blue) pixels.
    grid = np.asarray(Image.open(io.BytesIO(page.locator(f"{canvas} img").screenshot())).convert("RGB")).astype(int)
    assert not (np.abs(grid - [255, 140, 0]).max(axis=2) < 40).any()


def test_the_status_line_after_stop_after_an_error_and_at_a_new_start(page):
    page.click("#generate")
    status_has(page, "#status", "Drawing")
    page.click("#stop")
    status_has(page, "#status", "Stopped at")
    page.locator("#generate-pace").get_by_text("As fast as possible").click()
    page.click("#generate")
    status_has(page, "#status", "Done")
    page.evaluate(STATUS_LOG, "#status")  # every text the status line shows from here on
    page.click("#generate")
    page.wait_for_function("() => window.__status.some(t => t.includes('Drawing'))")
    status_has(page, "#status", "Done")
    drawing = [t for t in page.evaluate("window.__status") if "Drawing" in t]  # a fast drawing's lines come and go within a second
    assert drawing and all("Done" not in t and "processing" not in t and t.count("Drawing") == 1 for t in drawing), drawing
    page.get_by_role("tab", name="Complete").click()
    page.click("#complete")  # nothing drawn or uploaded yet
    status_has(page, "#complete-status", "Not drawn: Upload an image first")
