"""How long the page takes to take in an upload (a photo for the portrait, a digit to complete) while
a burst of visitors draws at full speed.

    python bench/upload.py [--burst 32] [--every 0.5]

Starts `python app.py` on a free port with its own Gradio cache folder, warms it with a small
burst, then posts a 28x28 PNG to Gradio's upload route every `--every` seconds: for 5 s of quiet,
then while `--burst` visitors press Generate at once (16 MNIST digits each, as fast as possible).
Prints a table of the upload's time to answer (median, 90th percentile, slowest), idle and under the
burst, and their ratio. gradio_client gives an upload 5 s (httpx's default timeout); a browser waits.
"""

import argparse
import statistics
import sys
import threading
import time

import httpx

from common import start_app, wait_serving
from visitors import DIGITS
from soak import Tally, burst


def uploads(url: str, png: bytes, every: float, until) -> list[float]:
    """Seconds each upload took, one every `every` s until `until()` says stop."""
    took = []
    while not until():
        sent = time.monotonic()
        answer = httpx.post(url + "gradio_api/upload", files={"files": ("digit.png", png, "image/png")}, timeout=300)
        answer.raise_for_status()
        took.append(time.monotonic() - sent)
        time.sleep(every)
    return took


def row(label: str, took: list[float]) -> str:
    ranked = sorted(took)
    return (f"| {label} | {len(took)} | {1000 * statistics.median(took):.0f} | {1000 * ranked[int(0.9 * (len(took) - 1))]:.0f} | "
            f"{1000 * ranked[-1]:.0f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--burst", type=int, default=32, help="visitors pressing Generate at once (default: 32)")
    parser.add_argument("--every", type=float, default=0.5, help="seconds between uploads (default: 0.5)")
    args = parser.parse_args()
    proc, url, _ = start_app("pixelcnn-upload-")
    try:
        wait_serving(url, proc, limit=300)
        tally, png = Tally(), DIGITS[0].read_bytes()
        burst(url, 4, tally)  # the engine started, the models sent over
        quiet_end = time.monotonic() + 5
        idle = uploads(url, png, args.every, lambda: time.monotonic() > quiet_end)
        drawing = threading.Thread(target=burst, args=(url, args.burst, tally))
        started = time.monotonic()
        drawing.start()
        busy = uploads(url, png, args.every, lambda: not drawing.is_alive())
        seconds = time.monotonic() - started
    finally:
        proc.terminate()
        proc.wait()
    print("| when | uploads | median ms | p90 ms | slowest ms |\n|---|---|---|---|---|")
    print(row("quiet", idle))
    print(row(f"a burst of {args.burst} drawing ({seconds:.0f} s)", busy))
    print(f"\nslowest under the burst / median when quiet: {max(busy) / statistics.median(idle):.0f}x; "
          f"burst requests: {dict(tally.outcomes)}")
    sys.exit(0 if tally.outcomes.get("unanswered", 0) == 0 else 1)


if __name__ == "__main__":
    main()
