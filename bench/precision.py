"""bfloat16 sampling against float32: the speed of the engine's pixel step, and the bits/dim of the
samples each draws (scored by the float32 model), for a bundled model.

    python bench/precision.py [--model assets/mnist] [--images 4096] [--guidance 2]

The page's engine draws a large batch with a bfloat16 copy of a model where the CPU computes
bfloat16 natively and the copy measured faster; this says whether that changes what it draws.
Both precisions draw the same requests (classes in turn, the same seeds); the bits/dim of every
sample is computed by the float32 model. Target (the issue): the bfloat16 samples' mean bits/dim
within 0.01 of the float32 samples'. The standard error of each mean is printed beside it, so a
difference smaller than the noise reads as such.
"""

import argparse
import copy
import time
from pathlib import Path

import torch

import common  # noqa: F401  (puts this checkout's library first on the path)
import pixelcnn
from pixelcnn.sampling.cohort import Cohort, order
from pixelcnn.engine.costs import Costs, native_bf16

ROOT = Path(__file__).resolve().parent.parent


def draw(model, weights, n: int, seed: int, guidance: float) -> torch.Tensor:
    labels = torch.arange(n) % model.num_classes if model.num_classes else None
    request = order(model, n, labels=labels, seed=seed, guidance=guidance)
    with torch.no_grad():
        for _ in Cohort(model, [request], weights=weights).pixels():
            pass
    return request.part.canvas.clone()


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "assets" / "mnist"))
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=512, help="images drawn at once (default: 512, a crowd's batch)")
    parser.add_argument("--guidance", type=float, default=2.0)
    args = parser.parse_args()
    model = pixelcnn.load(args.model).eval()
    low = copy.deepcopy(model).to(torch.bfloat16)
    print(f"{args.model}: {args.images} images a precision in batches of {args.batch}, guidance {args.guidance:g}; "
          f"native bfloat16 on this CPU: {native_bf16()}; torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print("| batch rows | float32 ms a step | bfloat16 ms a step | ratio |")
    print("|---|---|---|---|")
    for rows in (64, 512, 1024):
        fp32, bf16 = (Costs.time_step(model, rows, model.image_size[1], w) for w in (model, low))
        print(f"| {rows} | {1e3 * fp32:.2f} | {1e3 * bf16:.2f} | {fp32 / bf16:.2f}x |", flush=True)
    print("\n| precision | mean bits/dim of its samples (float32 model) | standard error | seconds |")
    print("|---|---|---|---|")
    means, every = {}, {}
    for name, weights in (("float32", model), ("bfloat16", low)):
        start, bits = time.perf_counter(), []
        for k in range(0, args.images, args.batch):
            n = min(args.batch, args.images - k)
            x = draw(model, weights, n, seed=k, guidance=args.guidance)
            labels = torch.arange(n) % model.num_classes if model.num_classes else None
            with torch.no_grad():
                bits.append(torch.cat([model.bits_per_dim(x[i:i + 256], labels=None if labels is None else labels[i:i + 256])
                                       for i in range(0, n, 256)]))
        bits = every[name] = torch.cat(bits).double()
        means[name] = (bits.mean().item(), bits.std().item() / len(bits) ** 0.5)
        print(f"| {name} | {means[name][0]:.4f} | {means[name][1]:.4f} | {time.perf_counter() - start:.0f} |", flush=True)
    # The same requests and seeds in both: each image's two draws share their noise, so the paired
    # difference is far less noisy than the two means apart.
    paired = every["bfloat16"] - every["float32"]
    same = (paired == 0).float().mean().item()
    print(f"\nbfloat16 - float32: {paired.mean().item():+.4f} bits/dim, standard error {paired.std().item() / len(paired) ** 0.5:.4f} "
          f"(paired by request and seed; {100 * same:.0f}% of the images came out identical); target |difference| <= 0.01")


if __name__ == "__main__":
    main()
