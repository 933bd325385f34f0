"""What the benchmarks share: the machine's own reference rate and a live app server to measure
(the work a model does is its own `multiply_adds_per_pixel`)."""

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import torch

# The library of the checkout a bench lies in, not whichever one the environment has installed
# (editable): a bench run in a checkout of an older commit measures that commit's code.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def matmul_flops(dtype=torch.float32, side: int = 1024) -> float:
    """FLOP/s of the best of ten side x side matrix products in `dtype` on this machine."""
    a, b = torch.randn(side, side, dtype=dtype), torch.randn(side, side, dtype=dtype)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(10):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * side**3 / best


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(prefix: str = "", args=(), log=subprocess.DEVNULL) -> tuple[subprocess.Popen, str, Path | None]:
    """`python app.py` on a free port of 127.0.0.1 -> (its process, its url, its Gradio cache folder).
    prefix: a new cache folder of its own, named so (empty: Gradio's default); args: app.py's options;
    log: where its output goes. The caller waits for it (`wait_serving`) and ends it."""
    port = free_port()
    cache = Path(tempfile.mkdtemp(prefix=prefix)) if prefix else None
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1", **({"GRADIO_TEMP_DIR": str(cache)} if cache else {})}
    proc = subprocess.Popen([sys.executable, "app.py", *args], cwd=ROOT, env=env, stdout=log, stderr=log)
    return proc, f"http://127.0.0.1:{port}/", cache


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


def descendants(pid: int) -> list[int]:
    """Every process `pid` started, and theirs (the page's drawing engine, multiprocessing's helper)."""
    found, todo = [], [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except FileNotFoundError:
                continue
            found += kids
            todo += kids
    return found


def pss_mb(pids: list[int]) -> float:
    """The proportional set sizes of these processes added up, in MB: the memory they share counts once."""
    total = 0.0
    for pid in pids:
        try:
            total += sum(int(line.split()[1]) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
                         if line.startswith("Pss:")) / 1024
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def memory_mb(pid: int) -> float:
    """Memory of process `pid` and every process it started (the page's drawing engine runs in one of
    its own), in MB, as PSS."""
    return pss_mb([pid, *descendants(pid)])


def together(target, argument_lists: list[tuple]) -> float:
    """Run target(*arguments) for each of the lists at once, one thread each (visitors pressing a
    button together) -> seconds until the last returned."""
    threads = [threading.Thread(target=target, args=arguments) for arguments in argument_lists]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start
