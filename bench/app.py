"""The app's speed as a person meets it, through the real server.

    python bench/app.py [--runs 3]

Starts `python app.py` on a free port and times: start to serving; request to first streamed
frame; request to a finished grid of 16 digits (gradio_client, over HTTP); and the same for 8
portraits of a bundled example photo (face crop and embedding included) and 8 auto-encoder
decodings. Prints a table with each measurement's ratio to its target (below 1.0 meets it).
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from gradio_client import Client, handle_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import free_port, wait_serving  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"start to serving (s)": 20.0, "first frame (s)": 0.5, "16 digits complete (s)": 3.0}
EXAMPLES = ROOT / "assets" / "examples"


def time_requests(client, make_args, api_name: str, runs: int) -> tuple[float, float]:
    """Median seconds from sending a request to its first streamed frame, and to its last."""
    client.predict(*make_args(0), api_name=api_name)  # warm-up
    first, whole = [], []
    for run in range(runs):
        sent = time.perf_counter()
        job = client.submit(*make_args(run), api_name=api_name)
        first_seen = None
        for _ in job:
            if first_seen is None:
                first_seen = time.perf_counter() - sent
        whole.append(time.perf_counter() - sent)
        first.append(first_seen)
    return statistics.median(first), statistics.median(whole)


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1"}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_serving(url, proc)
        startup = time.perf_counter() - start
        client = Client(url, verbose=False)
        first, whole = time_requests(client, lambda run: ("MNIST", str(run % 10), 16, 1.0, str(run)), "/generate", args.runs)
        photo = handle_file(str(EXAMPLES / "obama.jpg"))
        p_first, p_whole = time_requests(client, lambda run: (photo, None, None, 0.5, False, 8, 1.0, str(run)), "/portraits", args.runs)
        digit = handle_file(str(EXAMPLES / "mnist-test-7.png"))
        a_first, a_whole = time_requests(client, lambda run: (digit, None, 8, 1.0, str(run)), "/autoencode", args.runs)
        measured = {"start to serving (s)": startup, "first frame (s)": first, "16 digits complete (s)": whole,
                    "portrait: first frame (s)": p_first, "8 portraits complete (s)": p_whole,
                    "auto-encoder: first frame (s)": a_first, "8 decodings complete (s)": a_whole}
    finally:
        proc.terminate()
        proc.wait()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; median of {args.runs} runs for the requests\n")
    print("| measurement | measured | target | measured / target |")
    print("|---|---|---|---|")
    for name, value in measured.items():
        target = TARGETS.get(name)
        print(f"| {name} | {value:.2f} | {f'{target:.1f}' if target else 'none set'} | {f'{value / target:.2f}' if target else ''} |")


if __name__ == "__main__":
    main()
