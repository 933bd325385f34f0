"""The app's speed as a person meets it, through the real server.

    python bench/app.py [--runs 3]

Starts `python app.py` on a free port and times: start to serving; request to first streamed
frame; request to a finished grid of 16 digits (gradio_client, over HTTP). Prints a table with
each measurement's ratio to its target (below 1.0 meets it).
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from gradio_client import Client

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"start to serving (s)": 20.0, "first frame (s)": 0.5, "16 digits complete (s)": 3.0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_serving(url: str, proc, limit: float = 120) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        if proc.poll() is not None:
            raise SystemExit(f"app.py exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return time.perf_counter() - start
        except OSError:
            time.sleep(0.05)
    raise SystemExit("app.py did not start serving in time")


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
        client.predict("MNIST", "3", 2, 1.0, "0", api_name="/generate")  # warm-up
        first, whole = [], []
        for run in range(args.runs):
            sent = time.perf_counter()
            job = client.submit("MNIST", str(run % 10), 16, 1.0, str(run), api_name="/generate")
            first_seen = None
            for _ in job:
                if first_seen is None:
                    first_seen = time.perf_counter() - sent
            whole.append(time.perf_counter() - sent)
            first.append(first_seen)
        measured = {"start to serving (s)": startup, "first frame (s)": statistics.median(first), "16 digits complete (s)": statistics.median(whole)}
    finally:
        proc.terminate()
        proc.wait()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; median of {args.runs} runs for the requests\n")
    print("| measurement | measured | target | measured / target |")
    print("|---|---|---|---|")
    for name, value in measured.items():
        print(f"| {name} | {value:.2f} | {TARGETS[name]:.1f} | {value / TARGETS[name]:.2f} |")


if __name__ == "__main__":
    main()
