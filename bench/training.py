"""Training speed on this machine: images/s and multiply-adds/s of a training step of the bundled
architecture in each setting, and what bf16 costs in bits/dim.

    python bench/training.py [--threads N] [--steps 200] [--no-compile]

Settings: fp32 (the reference), bf16 autocast, bf16 + channels_last, bf16 + torch.compile, each
at batch 32 and 64 (a step = forward, loss in fp32, backward, Adam). A training step costs about
3x the forward pass's multiply-adds; the table gives that rate beside the fp32 matmul rate
measured in the same run. Then two runs on MNIST from the same initial weights, data order and
seed, one in fp32 and one in bf16, `--steps` steps each, and the held-out bits/dim of both.
"""

import argparse
import time

import torch


from common import matmul_flops
from pixelcnn.data import load_dataset, quantize
from pixelcnn.training.metrics import mean_loss
from pixelcnn.models import GatedPixelCNN
from pixelcnn.training.build import batch_loss
from pixelcnn.training.loop import compiled

BATCHES = (32, 64)


def bundled_size_model(seed: int = 0) -> GatedPixelCNN:
    torch.manual_seed(seed)
    return GatedPixelCNN(image_size=[28, 28], hidden_channels=32, num_layers=8, kernel_size=5, num_classes=10)


def images_per_second(setting: str, batch: int, repeats: int) -> float:
    model = bundled_size_model()
    precision = None if setting == "fp32" else torch.bfloat16
    net = model
    if "channels_last" in setting:
        model.to(memory_format=torch.channels_last)
    if "compile" in setting:
        net = compiled(model, torch.device("cpu"))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    generator = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (batch, 1, 28, 28), generator=generator)
    if "channels_last" in setting:
        x = x.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (batch,), generator=generator)
    best = float("inf")
    for step in range(repeats + 2):  # two warm-up steps (the compiled setting compiles in the first)
        start = time.perf_counter()
        loss = batch_loss(net, model, x, labels, precision=precision)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step >= 2:
            best = min(best, time.perf_counter() - start)
    return batch / best


def bits_after(precision, steps: int, batch: int = 32) -> tuple[float, float]:
    """Train the bundled size on MNIST from a fixed start for `steps` steps -> (held-out bits/dim, seconds)."""
    d = load_dataset("mnist")
    model = bundled_size_model(seed=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(2)
    train_x, train_y = torch.from_numpy(quantize(d.train_x, 256)), torch.from_numpy(d.train_y)
    start = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, len(train_y), (batch,), generator=generator)
        loss = batch_loss(model, model, train_x[idx], train_y[idx], precision=precision)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    seconds = time.perf_counter() - start
    return mean_loss(model, d.test_x, d.test_y), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per setting, best taken (default: 5)")
    parser.add_argument("--steps", type=int, default=200, help="steps of each run in the bits/dim comparison (default: 200)")
    parser.add_argument("--no-compile", action="store_true", help="leave out the torch.compile setting")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    fp32_rate, bf16_rate = matmul_flops(), matmul_flops(torch.bfloat16)
    step_macs = 3 * bundled_size_model().multiply_adds_per_pixel() * 28 * 28
    print(f"torch {torch.__version__}, {args.threads} threads; 1024x1024 matmul: fp32 {fp32_rate / 1e9:.1f} GFLOP/s, "
          f"bf16 {bf16_rate / 1e9:.1f} GFLOP/s")
    print(f"bundled size (8 layers, 32 channels, kernel 5, 28x28, 10 classes): about {step_macs / 1e6:.0f} M multiply-adds per image per step\n")
    settings = ["fp32", "bf16", "bf16 + channels_last"] + ([] if args.no_compile else ["bf16 + compile"])
    print("| setting | batch | images/s | GMAC/s | share of the fp32 matmul rate | speed vs fp32 |")
    print("|---|---|---|---|---|---|")
    for batch in BATCHES:
        reference = None
        for setting in settings:
            rate = images_per_second(setting, batch, args.repeats)
            reference = reference or rate
            macs = rate * step_macs
            print(f"| {setting} | {batch} | {rate:.1f} | {macs / 1e9:.2f} | {100 * 2 * macs / fp32_rate:.1f}% | {rate / reference:.2f}x |", flush=True)
    print(f"\nMNIST, {args.steps} steps of batch 32 from the same start, data order and seed:\n")
    print("| precision | held-out bits/dim | seconds |")
    print("|---|---|---|")
    results = {}
    for name, precision in (("fp32", None), ("bf16", torch.bfloat16)):
        results[name] = bits_after(precision, args.steps)
        print(f"| {name} | {results[name][0]:.4f} | {results[name][1]:.0f} |", flush=True)
    cost = results["bf16"][0] - results["fp32"][0]
    print(f"\nbf16 costs {cost:+.4f} bits/dim (allowed: at most +0.01) and takes {results['bf16'][1] / results['fp32'][1]:.2f}x the time of fp32.")


if __name__ == "__main__":
    main()
