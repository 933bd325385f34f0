"""The app's speed as a person meets it, through the real server.

    python bench/app.py [--runs 3]

Starts `python app.py` on a free port and times: start to serving; request to first streamed
frame; request to a finished grid of 16 digits (gradio_client, over HTTP, as fast as possible);
the same for 8 portraits of a bundled example photo (face crop and embedding included) and 8
auto-encoder decodings; the page's default watchable pace (seconds from first frame to last,
and frames a second, as the server sends them and as headless Chromium shows them); and each
Inspect view (surprise map with the classifier, and where a pixel looks for
both models), request to answer. Prints a table with each measurement's ratio to its target
(below 1.0 meets it; for frames a second the ratio is target / measured).
"""

import argparse
import os
import statistics
import sys
import time

from gradio_client import Client, handle_file

from common import ROOT, start_app, wait_serving

TARGETS = {"start to serving (s)": 20.0, "first frame (s)": 0.5, "16 digits complete (s)": 3.0, "watchable pace: frames a second": 15.0,
           "watchable pace in Chromium: frames shown a second": 15.0,
           "inspect: surprise map + classifier (s)": 1.0, "inspect: where a pixel looks, both models (s)": 1.0}
MORE_IS_BETTER = {"watchable pace: frames a second", "watchable pace in Chromium: frames shown a second"}
FAST = {"pace": "As fast as possible"}
EXAMPLES = ROOT / "assets" / "examples"


def time_requests(client, make_args, api_name: str, runs: int, **kwargs) -> tuple[float, float]:
    """Median seconds from sending a request to its first streamed frame, and to its last."""
    client.predict(*make_args(0), api_name=api_name, **kwargs)  # warm-up
    first, whole = [], []
    for run in range(runs):
        sent = time.perf_counter()
        job = client.submit(*make_args(run), api_name=api_name, **kwargs)
        first_seen = None
        for _ in job:
            if first_seen is None:
                first_seen = time.perf_counter() - sent
        whole.append(time.perf_counter() - sent)
        first.append(first_seen)
    return statistics.median(first), statistics.median(whole)


def median_seconds(request, runs: int) -> float:
    """Median seconds of `runs` calls of request(run), after one warm-up call."""
    request(0)
    times = []
    for run in range(runs):
        sent = time.perf_counter()
        request(run)
        times.append(time.perf_counter() - sent)
    return statistics.median(times)


def watchable(url: str) -> tuple[float, float]:
    """16 digits at the page's default pace: (seconds from the first frame to the last, frames a
    second), as the server sends them (this client fetches no files; a browser fetches each
    frame's two pictures, and tests/test_browser.py counts the frames it shows)."""
    client = Client(url, verbose=False, download_files=False)
    arrivals = []
    sent = time.perf_counter()
    for _ in client.submit("MNIST", "5", 16, 1.0, "0", api_name="/generate"):
        arrivals.append(time.perf_counter() - sent)
    span = arrivals[-1] - arrivals[0]
    return span, (len(arrivals) - 1) / span


FRAME_CLOCK = """() => { window.__frames = []; const seen = new Set();
  new MutationObserver(() => { const img = document.querySelector('#canvas img'); if (img && !seen.has(img.src)) { seen.add(img.src);
    window.__frames.push(performance.now()); } }).observe(document.body, {subtree: true, childList: true, attributes: true}); }"""


def in_the_browser(url: str) -> tuple[float, float] | None:
    """The first Generate of a fresh page in headless Chromium (Debian's, through Playwright):
    (seconds from the first frame shown to the last, frames shown a second), or None without Chromium."""
    import shutil

    if not shutil.which("/usr/bin/chromium"):
        return None
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.wait_for_selector("#generate")
        page.evaluate(FRAME_CLOCK)
        page.click("#generate")
        page.wait_for_function("() => document.querySelector('#status')?.innerText.includes('Done')", timeout=120_000)
        times = page.evaluate("window.__frames")
        browser.close()
    span = (times[-1] - times[0]) / 1000
    return span, (len(times) - 1) / span


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    start = time.perf_counter()
    proc, url, _ = start_app()
    try:
        wait_serving(url, proc)
        startup = time.perf_counter() - start
        client = Client(url, verbose=False)
        first, whole = time_requests(client, lambda run: ("MNIST", str(run % 10), 16, 1.0, str(run)), "/generate", args.runs, **FAST)
        photo = handle_file(str(EXAMPLES / "obama.jpg"))
        p_first, p_whole = time_requests(client, lambda run: (photo, None, None, 0.5, False, 8, 1.0, str(run)), "/portraits", args.runs, **FAST)
        digit = handle_file(str(EXAMPLES / "mnist-test-7.png"))
        a_first, a_whole = time_requests(client, lambda run: (digit, None, 8, 1.0, str(run)), "/autoencode", args.runs, **FAST)
        on_screen, per_second = watchable(url)
        shown = in_the_browser(url)
        inspect = median_seconds(lambda run: client.predict("MNIST", digit, None, "Its best guess", api_name="/inspect"), args.runs)
        looks = median_seconds(lambda run: client.predict("MNIST", digit, None, "Its best guess", 45 + 10 * run, 185, api_name="/where_it_looks"),
                               args.runs)
        measured = {"start to serving (s)": startup, "first frame (s)": first, "16 digits complete (s)": whole,
                    "portrait: first frame (s)": p_first, "8 portraits complete (s)": p_whole,
                    "auto-encoder: first frame (s)": a_first, "8 decodings complete (s)": a_whole,
                    "watchable pace: 16 digits, first frame to last (s)": on_screen, "watchable pace: frames a second": per_second,
                    **({"watchable pace in Chromium: first frame shown to last (s)": shown[0],
                        "watchable pace in Chromium: frames shown a second": shown[1]} if shown else {}),
                    "inspect: surprise map + classifier (s)": inspect, "inspect: where a pixel looks, both models (s)": looks}
    finally:
        proc.terminate()
        proc.wait()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; median of {args.runs} runs for the requests\n")
    print("| measurement | measured | target | measured / target |")
    print("|---|---|---|---|")
    for name, value in measured.items():
        target = TARGETS.get(name)
        ratio = (target / value if name in MORE_IS_BETTER else value / target) if target else None
        print(f"| {name} | {value:.2f} | {f'{target:.1f}' if target else 'none set'} | {f'{ratio:.2f}' if ratio else ''} |")


if __name__ == "__main__":
    main()
