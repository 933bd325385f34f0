"""How often a press of Generate right after Stop is ignored, in Debian's Chromium against a real
server (`python app.py`): Generate, Stop while the sketch is being drawn, Generate again, and wait
8 seconds for the new drawing to start. Prints the count; the target is 0.

    python bench/stop_again.py [TRIES]
"""

import sys
import time

from common import start_app, wait_serving
from playwright.sync_api import sync_playwright

STATUS = "(text) => (document.querySelector('#status')?.innerText || '').includes(text)"


def main() -> None:
    tries, ignored = int(sys.argv[1]) if len(sys.argv) > 1 else 8, 0
    proc, url, _ = start_app()
    try:
        wait_serving(url, proc)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            page.wait_for_selector("#generate")
            for _ in range(tries):
                page.click("#generate")
                page.wait_for_function(STATUS, arg="Drawing the sketch", timeout=30_000)
                time.sleep(0.3)
                page.click("#stop")
                page.wait_for_function(STATUS, arg="Stopped", timeout=30_000)
                page.click("#generate")
                try:
                    page.wait_for_function(STATUS, arg="Drawing", timeout=8_000)
                    page.wait_for_function(STATUS, arg="Done", timeout=30_000)
                except Exception:  # noqa: BLE001 - the press was ignored: count it and let the page settle
                    ignored += 1
                    page.wait_for_timeout(8_000)
            browser.close()
    finally:
        proc.terminate()
    print(f"| presses of Generate right after Stop (sketch stage) | ignored |\n|---|---|\n| {tries} | {ignored} |")


if __name__ == "__main__":
    main()
