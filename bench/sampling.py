"""Sampling speed: the cached sampler with its native pixel step, with the Python step it stands
in for, and the naive sampler (a full forward pass per sub-pixel).

    python bench/sampling.py [--threads N] [--naive-rows R]

Prints, for a 28x28 grey class-conditional model of the bundled size and a 32x32 RGB model:
seconds per image at batch 1, 16 and 64 for the three, the native step's speedup over the Python
step and over the naive sampler, and the FLOP efficiency of both cached steps (the multiply-adds
one image needs, times images per second, over this machine's fp32 matmul rate measured in the
same run, with the same threads). The naive sampler is timed on its first R rows and
extrapolated to the whole image (every one of its steps costs the same).
"""

import argparse
import time
from pathlib import Path

import torch


from common import matmul_flops
from pixelcnn.models import GatedPixelCNN
from pixelcnn.sampling import native, sample, sample_stream

BATCHES = (1, 16, 64)


def bundled_or_random(path: Path, **config) -> GatedPixelCNN:
    if (path / "model.safetensors").exists():
        return GatedPixelCNN.from_pretrained(path).eval()
    torch.manual_seed(0)
    return GatedPixelCNN(**config).eval()


def labels_for(model, n):
    return torch.arange(n) % model.num_classes if model.num_classes else None


def time_cached(model, n, size) -> float:
    sample(model, n, labels=labels_for(model, n), size=(2, size[1]), seed=0)  # warm-up
    best = float("inf")
    for seed in range(2 if n > 16 else 3):
        start = time.perf_counter()
        sample(model, n, labels=labels_for(model, n), size=size, seed=seed)
        best = min(best, time.perf_counter() - start)
    return best


def time_naive(model, n, size, rows) -> float:
    h, w = size
    stream = sample_stream(model, n, labels=labels_for(model, n), size=size, seed=0, method="naive", every=w)
    next(stream)  # the first row includes warm-up
    start = time.perf_counter()
    for _ in range(rows):
        next(stream)
    stream.close()
    return (time.perf_counter() - start) / rows * h


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--naive-rows", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    assets = Path(__file__).resolve().parent.parent / "assets"
    models = {
        "28x28 grey, class": (bundled_or_random(assets / "mnist", image_size=[28, 28], hidden_channels=32, num_layers=8, kernel_size=5, num_classes=10), (28, 28)),
        "32x32 RGB": (bundled_or_random(Path("/nonexistent"), image_channels=3, image_size=[32, 32], hidden_channels=48, num_layers=8, kernel_size=5), (32, 32)),
    }
    flops = matmul_flops()
    print(f"torch {torch.__version__}, {args.threads} threads; fp32 1024x1024 matmul: {flops / 1e9:.1f} GFLOP/s; native step: "
          f"{'built' if native.available() else 'NOT AVAILABLE (both columns are the Python step)'}")
    print(f"naive timed on its first {args.naive_rows} rows (after one warm-up row) and extrapolated\n")
    print("| model | batch | native step s/image | Python step s/image | naive s/image | native vs Python | native vs naive "
          "| FLOP efficiency: Python -> native |")
    print("|---|---|---|---|---|---|---|---|")
    for name, (model, size) in models.items():
        need = 2 * model.multiply_adds_per_pixel() * size[0] * size[1]
        for n in BATCHES:
            fast = time_cached(model, n, size)
            with native.disabled():
                python = time_cached(model, n, size)
            naive = time_naive(model, n, size, args.naive_rows)
            print(f"| {name} | {n} | {fast / n:.4f} ({fast:.3f} s total) | {python / n:.4f} ({python:.3f} s total) | {naive / n:.3f} | "
                  f"{python / fast:.1f}x | {naive / fast:.0f}x | {100 * need * n / python / flops:.1f}% -> {100 * need * n / fast / flops:.1f}% |",
                  flush=True)

if __name__ == "__main__":
    main()
