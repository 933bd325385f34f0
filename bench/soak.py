"""The page under mixed traffic for a stated time, and its footprint minute by minute.

    python bench/soak.py [--minutes 60] [--visitors 6] [--burst 32] [--burst-every 5] [--out soak]

Starts `python app.py` on a free port with its own Gradio cache folder. `--visitors` visitors
each loop over the page's requests, chosen at random from every tab: By class at the watchable
pace and at full speed, Sketch, Complete, Inspect and its pixel click, Portrait with both layouts
and the mix of two photos, the auto-encoder; some leave mid-drawing (their connection closed, as
a closed tab), some press Stop, a few send a bad request. Every `--burst-every` minutes `--burst`
visitors press Generate at once. Every minute (`--every`) it records the page's and the engine's memory
(proportional set size, PSS: the pages they share counted once), the files and bytes in /dev/shm,
open files, threads and the cache folder, and prints a line with a progress bar; it writes
`OUT.csv` and a chart `OUT.png`.

Passes (exit 0) when every request was answered (a drawing, or a sentence), the memory (PSS, page
and engine together) grew less than 2% over the last half of the run, and the cache folder did not
grow over it by more than 5 MB (each the median of the half's last five samples against its first five).
"""

import argparse
import csv
import os
import random
import signal
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from common import descendants, start_app, pss_mb, wait_serving
from load import folder_mb
from visitors import ACTIONS, BAD, Cuts, answered, drop_mid_drawing, visitor_client

FIELDS = ["minute", "page_mb", "engine_mb", "shm_files", "shm_mb", "open_files", "threads", "cache_mb", "cache_files",
          "drawings", "sentences", "unanswered"]


def count(pids: list[int], what: str) -> int:
    total = 0
    for pid in pids:
        try:
            total += len(os.listdir(f"/proc/{pid}/{what}"))
        except FileNotFoundError:
            continue
    return total


def footprint(pid: int, cache: Path) -> dict:
    page, engine = [pid], descendants(pid)
    shm = [p for p in Path("/dev/shm").iterdir() if p.is_file()]
    size, files = folder_mb(cache)
    return dict(page_mb=pss_mb(page), engine_mb=pss_mb(engine), shm_files=len(shm),
                shm_mb=sum(p.stat().st_size for p in shm if p.exists()) / 2**20, open_files=count(page + engine, "fd"),
                threads=count(page + engine, "task"), cache_mb=size, cache_files=files)


class Tally:
    """What the visitors got, by kind of request and in all, thread-safe."""

    def __init__(self):
        self.lock, self.kinds, self.outcomes, self.failures = threading.Lock(), Counter(), Counter(), []

    def add(self, kind: str, outcome: str, detail: str = "") -> None:
        with self.lock:
            self.kinds[kind] += 1
            self.outcomes[outcome] += 1
            if outcome == "unanswered":
                self.failures.append(f"{kind}: {detail[:200]}")
                tqdm.write(f"unanswered: {self.failures[-1]}")  # at once, not only at the end


KINDS = [*ACTIONS, "bad request", "leave mid-drawing"]


def visitor(url: str, tally: Tally, stop: threading.Event, k: int, visitors: int) -> None:
    """Visitor k of `visitors`: every kind of request in turn, starting a k-th of the way along
    (so that a few visitors for a few minutes send every kind between them)."""
    rng = random.Random(k)
    client = visitor_client(url)
    turn = k * len(KINDS) // visitors
    while not stop.is_set():
        kind = KINDS[turn % len(KINDS)]
        turn += 1
        try:
            if kind == "bad request":
                outcome, detail = answered(client, *rng.choice(BAD), expect_refusal=True)
            elif kind == "leave mid-drawing":
                outcome, detail = drop_mid_drawing(url, rng)
            else:
                outcome, detail = ACTIONS[kind](client, rng)
        except Exception as err:  # noqa: BLE001 - whatever stopped this request, the visitor goes on to the next
            outcome, detail = "unanswered", f"{type(err).__name__}: {err}"
        tally.add(kind, outcome, detail)


def burst(url: str, size: int, tally: Tally) -> None:
    def one(k):
        client = visitor_client(url)
        tally.add("burst: Generate at full speed", *answered(client, "/generate", ("MNIST", str(k % 10), 16, 1.0, str(k)),
                                                            {"pace": "As fast as possible"}))

    threads = [threading.Thread(target=one, args=(k,)) for k in range(size)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def chart(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [r["minute"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    axes[0].plot(minutes, [r["page_mb"] + r["engine_mb"] for r in rows], label="page + engine")
    axes[0].plot(minutes, [r["page_mb"] for r in rows], label="page")
    axes[0].plot(minutes, [r["engine_mb"] for r in rows], label="engine")
    axes[0].set(title="memory (PSS, MB)", xlabel="minute", ylim=(0, None))
    axes[1].plot(minutes, [r["open_files"] for r in rows], label="open files")
    axes[1].plot(minutes, [r["threads"] for r in rows], label="threads")
    axes[1].plot(minutes, [r["shm_files"] for r in rows], label="files in /dev/shm")
    axes[1].set(title="files and threads", xlabel="minute", ylim=(0, None))
    axes[2].plot(minutes, [r["cache_mb"] for r in rows], label="cache folder (MB)")
    axes[2].plot(minutes, [r["shm_mb"] for r in rows], label="/dev/shm (MB)")
    axes[2].set(title="disk", xlabel="minute", ylim=(0, None))
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def verdict(rows: list[dict], tally: Tally, growth_limit: float) -> tuple[bool, str]:
    """Growth over the last half: the median of its last five samples against the median of its
    first five (one sample in five can fall just after a burst)."""
    half = rows[len(rows) // 2:]
    k = min(5, max(1, len(half) // 2))

    def ends(key) -> tuple[float, float]:
        values = [r[key] if isinstance(key, str) else key(r) for r in half]
        return statistics.median(values[:k]), statistics.median(values[-k:])

    first, last = ends(lambda r: r["page_mb"] + r["engine_mb"])
    growth = 100 * (last / first - 1)
    cache = ends("cache_mb")
    unanswered = tally.outcomes["unanswered"]
    ok = unanswered == 0 and growth < growth_limit and cache[1] - cache[0] < 5
    return ok, (f"requests: {sum(tally.outcomes.values())} ({tally.outcomes['drawing']} drawings, {tally.outcomes['sentence']} sentences, "
                f"{tally.outcomes['stopped']} stopped, {tally.outcomes['left']} left mid-drawing, {unanswered} unanswered; "
                f"{Cuts.count} sent again after gradio_client's stream closed under them); "
                f"memory (PSS, page + engine) over the last half: {first:.0f} -> {last:.0f} MB ({growth:+.2f}%, limit {growth_limit}%); "
                f"cache over the last half: {cache[0]:.1f} -> {cache[1]:.1f} MB (limit +5)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--visitors", type=int, default=6, help="visitors looping over the page's requests (default: 6)")
    parser.add_argument("--burst", type=int, default=32, help="visitors in each burst (default: 32)")
    parser.add_argument("--burst-every", type=float, default=5, help="minutes between bursts (default: 5)")
    parser.add_argument("--every", type=float, default=60, help="seconds between measurements (default: 60)")
    parser.add_argument("--growth", type=float, default=2.0, help="the memory growth over the last half that fails, in %% (default: 2)")
    parser.add_argument("--out", default="soak", help="OUT.csv and OUT.png are written (default: soak)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(1))  # stopped: still end the page it started
    proc, url, cache = start_app("pixelcnn-soak-")
    tally, stop, rows = Tally(), threading.Event(), []
    try:
        wait_serving(url, proc, limit=300)
        visitors = [threading.Thread(target=visitor, args=(url, tally, stop, k, args.visitors), daemon=True) for k in range(args.visitors)]
        for thread in visitors:
            thread.start()
        start, next_burst = time.monotonic(), 0.0
        samples = max(1, int(round(60 * args.minutes / args.every)))
        with tqdm(total=samples, unit="sample", file=sys.stdout) as bar:
            for k in range(1, samples + 1):
                if (k - 1) * args.every / 60 >= next_burst:
                    threading.Thread(target=burst, args=(url, args.burst, tally), daemon=True).start()
                    next_burst += args.burst_every
                time.sleep(max(0.0, start + k * args.every - time.monotonic()))
                minute = k * args.every / 60
                if proc.poll() is not None:
                    raise SystemExit(f"app.py exited with {proc.returncode} at minute {minute:.1f}")
                row = dict(minute=round(minute, 2), **footprint(proc.pid, cache), drawings=tally.outcomes["drawing"],
                           sentences=tally.outcomes["sentence"], unanswered=tally.outcomes["unanswered"])
                rows.append(row)
                bar.update(1)
                bar.write(f"minute {minute:5.1f}: page {row['page_mb']:6.0f} MB + engine {row['engine_mb']:5.0f} MB (PSS); "
                          f"/dev/shm {row['shm_files']} files {row['shm_mb']:.1f} MB; {row['open_files']} open files, "
                          f"{row['threads']} threads; cache {row['cache_mb']:.1f} MB; answered {row['drawings']} drawings, "
                          f"{row['sentences']} sentences; {row['unanswered']} unanswered")
        stop.set()
        for thread in visitors:
            thread.join(180)
    finally:
        proc.terminate()
        proc.wait()
    out = Path(args.out)
    with open(out.with_suffix(".csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, FIELDS)
        writer.writeheader()
        writer.writerows({k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()} for row in rows)
    chart(rows, out.with_suffix(".png"))
    print("\n| request | sent |\n|---|---|")
    for kind, n in sorted(tally.kinds.items()):
        print(f"| {kind} | {n} |")
    for failure in tally.failures[:20]:
        print(f"unanswered: {failure}")
    ok, summary = verdict(rows, tally, args.growth)
    print(f"\n{'PASS' if ok else 'FAIL'}: {summary}")
    print(f"wrote {out.with_suffix('.csv')} and {out.with_suffix('.png')}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
