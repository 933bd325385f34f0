"""What the browser tests share: a page opened at a size, the status line waited on, a sketchpad
painted on as a visitor paints."""

from pathlib import Path




ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


WAIT = 300_000  # ms: how long a wait for something the page must do may last (on one busy core the first load takes a minute)


def open_page(browser, server, width: int = 1280, height: int = 900):
    """A new tab on the page at this size (a phone's below 768 pixels wide), loaded."""
    page = browser.new_page(viewport={"width": width, "height": height}, is_mobile=width < 768, has_touch=width < 768)
    page.set_default_timeout(WAIT)
    page.goto(server)
    page.wait_for_selector("#generate")
    return page


def canvas_src(page) -> str | None:
    return page.eval_on_selector("#canvas img", "img => img.src") if page.query_selector("#canvas img") else None


def upload(page, control: str, path) -> None:
    """Choose a file in an upload control and wait until the page has taken it: the control lists
    the file by name with a link to the server's copy (a fixed pause here failed on a busy core,
    where the upload took longer)."""
    page.set_input_files(f"{control} input[type=file]", str(path))
    page.wait_for_function("([sel, name]) => document.querySelector(`${sel} td.filename`)?.getAttribute('aria-label') === name"
                           " && !!document.querySelector(`${sel} a[href*='gradio_api/file=']`)", arg=[control, Path(path).name], timeout=WAIT)


def status_has(page, selector: str, text: str, timeout: int = WAIT) -> None:
    page.wait_for_function("([sel, text]) => document.querySelector(sel)?.innerText.includes(text)", arg=[selector, text], timeout=timeout)


def paint(page, pad: str, strokes: list[list[tuple[float, float]]]) -> None:
    """Draw on a sketchpad as a visitor does: pick the brush, then drag the mouse along each stroke
    (points as fractions of the pad's canvas)."""
    brush = page.locator(f"{pad} button[aria-label='Brush']")
    brush.wait_for(state="visible")
    brush.click()
    page.wait_for_timeout(500)  # the pad switches to the brush
    canvas = page.locator(f"{pad} canvas").first
    canvas.wait_for(state="visible")
    box = canvas.bounding_box()
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0] * box["width"], box["y"] + stroke[0][1] * box["height"])
        page.mouse.down()
        for fx, fy in stroke[1:]:
            page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"], steps=12)
        page.mouse.up()
    page.wait_for_timeout(500)


SEVEN = [[(0.3, 0.25), (0.7, 0.25), (0.6, 0.45), (0.5, 0.65), (0.45, 0.8)]]  # a bar across the top, a stroke down to the left


ONE = [[(0.5, 0.2), (0.5, 0.8)]]
