"""The app under load: bursts of concurrent visitors against the real server, and its footprint.

    python bench/load.py [--clients 32] [--bursts 10] [--count 16]

Starts `python app.py` on a free port with its own Gradio cache folder, then sends `--bursts`
bursts of `--clients` simultaneous By-class requests (MNIST, `--count` digits each, page
defaults but drawn as fast as possible: a watchable pace would only add its seconds of waiting),
each from its own gradio_client. After each burst (and a few seconds of quiet) it
prints completed / refused requests, p50 and p95 seconds to the first frame and to the last,
the memory of the server and its drawing engine (their proportional set sizes added up: what
they share counts once) and the size of its file cache. Targets: memory after the last burst
within 10% of memory after the first; the cache no larger after the last burst than after the
third, and under 50 MB.
"""

import argparse
import os
import signal
import statistics
import sys
import time
from pathlib import Path

from gradio_client import Client

from common import start_app, memory_mb, together, wait_serving



def folder_mb(folder: Path) -> tuple[float, int]:
    """The size of the files below `folder`, in MB, and how many. The page sweeps files and their
    folders as this walks: whatever goes between the listing and the look is not counted."""
    sizes = []
    for parent, _, names in os.walk(folder, onerror=lambda err: None):
        for name in names:
            try:
                sizes.append(os.stat(os.path.join(parent, name)).st_size)
            except FileNotFoundError:
                continue
    return sum(sizes) / 2**20, len(sizes)


def visit(client: Client, k: int, count: int, results: list) -> None:
    sent = time.perf_counter()
    first = None
    try:
        for _ in client.submit("MNIST", str(k % 10), count, 1.0, str(k), pace="As fast as possible", api_name="/generate"):
            first = first or time.perf_counter() - sent
        results.append(("done", first, time.perf_counter() - sent))
    except Exception as err:  # a full queue, or anything else the server answered with
        results.append(("refused", str(err).splitlines()[0][:80], None))


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else (values[0] if values else float("nan"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--bursts", type=int, default=10)
    parser.add_argument("--count", type=int, default=16, help="digits per request (default: 16)")
    parser.add_argument("--quiet", type=float, default=5.0, help="seconds of quiet after a burst before measuring (default: 5)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(1))  # stopped: still end the page it started
    proc, url, cache = start_app("pixelcnn-load-")
    rows = []
    try:
        wait_serving(url, proc)
        start_memory = memory_mb(proc.pid)
        # Frames are not downloaded: a visitor's browser fetches them, not this machine's clients.
        clients = [Client(url, verbose=False, download_files=False) for _ in range(args.clients)]
        print(f"{args.clients} clients, {args.bursts} bursts of {args.count} MNIST digits each; memory after start: {start_memory:.0f} MB\n")
        print("| burst | completed | refused | first frame p50 / p95 (s) | complete p50 / p95 (s) | memory (MB) | cache (MB, files) |")
        print("|---|---|---|---|---|---|---|")
        for burst in range(1, args.bursts + 1):
            results: list = []
            together(visit, [(c, burst * 1000 + k, args.count, results) for k, c in enumerate(clients)])
            time.sleep(args.quiet)
            done = [r for r in results if r[0] == "done"]
            firsts, wholes = [r[1] for r in done], [r[2] for r in done]
            memory, (size, files) = memory_mb(proc.pid), folder_mb(cache)
            rows.append((memory, size))
            print(f"| {burst} | {len(done)} | {len(results) - len(done)} | {percentile(firsts, 50):.2f} / {percentile(firsts, 95):.2f} | "
                  f"{percentile(wholes, 50):.2f} / {percentile(wholes, 95):.2f} | {memory:.0f} | {size:.1f} ({files}) |", flush=True)
            for reason in sorted({r[1] for r in results if r[0] == "refused"}):
                print(f"|  | refused: {reason} |")
    finally:
        proc.terminate()
        proc.wait()
    if len(rows) >= 3:
        growth = rows[-1][0] / rows[0][0] - 1
        print(f"\nMemory after the last burst vs the first: {100 * growth:+.1f}% (target: within 10%); "
              f"cache after the last burst {rows[-1][1]:.1f} MB vs {rows[2][1]:.1f} MB after the third (target: no larger, under 50 MB)")


if __name__ == "__main__":
    main()
