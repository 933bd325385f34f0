"""The engine's pixel step: milliseconds one sub-pixel of every image in a batch costs, for the
samplers the page draws with, at the batch sizes a crowd makes.

    python bench/step.py [--threads 1 2] [--rows 1 64 512 1024] [--steps native python]

For each bundled sampler (the MNIST two-stage model's sketch and detail stages, the latter
conditioned on its map, and the portrait model, conditioned on a face vector) it draws a batch of
whole images as the page does (guidance 2: two batch rows an image, class or face conditioning,
the sketch map), and times the steps of its third and fourth image rows (the vertical stack's
once-a-row work included). Run the same file in two checkouts to compare two versions of the
sampler; the "images/s" column is images over the time of a whole image at that step cost, a
ceiling for what the engine can serve. Each sampler is timed with the native pixel step and with the
Python step (PIXELCNN_NATIVE=0), each measurement in a fresh process. Each measurement runs in a fresh process, as the page's
engine measures its costs when it starts: in one process, an earlier measurement changed a later
one by up to 2x (measured).
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

import common  # noqa: F401  (puts this checkout's library first on the path)
import pixelcnn
from pixelcnn.sampling.cohort import Cohort, order
from pixelcnn.engine.costs import Costs

ROOT = Path(__file__).resolve().parent.parent


def time_step(model, rows: int, size) -> float:
    """Seconds a pixel step takes for `rows` batch rows (rows / 2 images, guided), over image rows 3 and 4."""
    images = max(rows // 2, 1)
    given = dict(labels=torch.arange(images) % model.num_classes if model.num_classes else None,
                 cond=torch.randn(images, model.cond_dim, generator=torch.Generator().manual_seed(0)) if model.cond_dim else None,
                 cond_map=torch.zeros(images, model.cond_map_channels, *size) if model.cond_map_channels else None)
    request = order(model, images, size=size, seed=0, guidance=2.0 if rows > 1 else 0.0, **given)
    pixels, width = Cohort(model, [request]).pixels(), size[1]
    with torch.no_grad():
        for _ in range(2 * width):
            next(pixels)
        start = time.perf_counter()
        for _ in range(2 * width):
            next(pixels)
    return (time.perf_counter() - start) / (2 * width)


def samplers() -> dict:
    found = {}
    for name in ("mnist-sketch", "portraits"):
        model = pixelcnn.load(ROOT / "assets" / name)
        for part, size in Costs.samplers(model):
            stage = "detail" if part is getattr(model, "detail", None) else "sketch" if getattr(model, "STAGED", False) else ""
            found[f"{name} {stage}".strip() + f" ({size[0]}x{size[1]})"] = (part.eval(), size)
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 64, 512, 1024])
    parser.add_argument("--steps", nargs="+", choices=("native", "python"), default=["native", "python"])
    parser.add_argument("--one", nargs=3, metavar=("SAMPLER", "THREADS", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # one measurement, in this fresh process: prints its seconds
        name, threads, rows = args.one[0], int(args.one[1]), int(args.one[2])
        torch.set_num_threads(threads)
        model, size = samplers()[name]
        time_step(model, 1, size)  # warm-up
        print(time_step(model, rows, size))
        return
    print(f"torch {torch.__version__}; ms a pixel step at each number of batch rows (images/s at that batch; guided: two rows an image)\n")
    print(f"| sampler | threads | step | {' | '.join(f'{r} rows' for r in args.rows)} |")
    print(f"|---|---|---|{'---|' * len(args.rows)}")
    for threads in args.threads:
        for name, (model, size) in samplers().items():
            for step in args.steps:
                env = {**os.environ, "PIXELCNN_NATIVE": "1" if step == "native" else "0"}
                cells = []
                for rows in args.rows:
                    run = subprocess.run([sys.executable, __file__, "--one", name, str(threads), str(rows)], capture_output=True, text=True,
                                         check=True, env=env)
                    seconds = float(run.stdout.split()[-1])
                    cells.append(f"{1e3 * seconds:.2f} ({max(rows // 2, 1) / (seconds * size[0] * size[1] * model.image_channels):.0f})")
                print(f"| {name} | {threads} | {step} | {' | '.join(cells)} |", flush=True)

if __name__ == "__main__":
    main()
