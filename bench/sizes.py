"""What a larger two-stage model would cost the page: seconds for the 16 images of one
Generate press at the page's defaults (its sketch guidance and both temperatures, from the shelf), drawn by the cached
sampler at full speed, for the bundled weights and for larger untrained models of the same shape
(the cost does not depend on the weights' values), and the ratio to the bundled one; with
--models, trained ones too.

    python bench/sizes.py [--dataset mnist] [--threads 2] [--sizes 48x8 64x8 48x12] [--models runs/wd-a/model ...]

Before training a larger detail stage, this says what its drawings would cost every visitor
(the watchable pace hides up to about 6 s of work; a crowd shares the engine).
"""

import argparse
import time

import torch

import common  # noqa: F401  (puts this checkout's library first on the path)
import pixelcnn
from pixelcnn import sample
from pixelcnn.models.twostage import TwoStagePixelCNN
from pixelcnn.studio import shelf


def press(dataset: str, drawer) -> dict:
    """What a visitor's press asks of `drawer`, the two-stage model of `dataset` (mnist or fashion-mnist):
    the By class tab's own starting settings."""
    label = next(label for label, name in shelf.DATASETS.items() if name == dataset)
    guidance, sketch_guidance, temperature, sketch_temperature = shelf.Shelf({shelf.sketch_first(label): drawer}, []).drawing_settings(label)
    return {"sketch_guidance": sketch_guidance, "guidance": guidance, "sketch_temperature": sketch_temperature, "temperature": temperature}


def untrained(channels: int, layers: int, sketch_channels: int | None) -> TwoStagePixelCNN:
    return TwoStagePixelCNN.build(4, sketch_levels=32, sketch_channels=sketch_channels, image_size=[28, 28], image_channels=1,
                                  num_classes=10, hidden_channels=channels, num_layers=layers, kernel_size=5, levels=256,
                                  cond_dropout=0.15).eval()


def row(name: str, model, cost: float, reference: float) -> str:
    return f"| {name} | {sum(p.numel() for p in model.detail.parameters()):,} | {cost:.2f} s | {cost / reference:.2f}x |"


def seconds(model, settings: dict, repeats: int = 3) -> float:
    sample(model, 16, labels=3, seed=0)  # the first press builds what the sampler caches
    times = []
    for k in range(repeats):
        start = time.perf_counter()
        sample(model, 16, labels=k % 10, seed=k + 1, **settings)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=["mnist", "fashion-mnist"], default="mnist", help="whose bundled drawer and page defaults")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", nargs="+", default=["48x8", "64x8", "48x12"],
                        help="CHANNELSxLAYERS of both stages (of the detail stage alone with --detail-only)")
    parser.add_argument("--detail-only", action="store_true", help="--sizes are the detail stage's; the sketch stage keeps the bundled size")
    parser.add_argument("--models", nargs="*", default=[], help="trained two-stage models of the same data to time as well")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    bundled = pixelcnn.load(f"assets/{args.dataset}-sketch")
    settings = press(args.dataset, bundled)
    reference = seconds(bundled, settings)
    print(f"{args.threads} thread(s); {args.dataset}: 16 images at the page's defaults {settings}, median of 3\n")
    print("| model | detail stage's parameters | 16 images | against the bundled |")
    print("|---|---|---|---|")
    print(row(f"bundled ({bundled.detail.hidden_channels} channels x {bundled.detail.num_layers} layers)", bundled, reference, reference))
    sketch_channels = bundled.sketch.hidden_channels if args.detail_only else None
    stages = "detail stage" if args.detail_only else "both stages"
    for size in args.sizes:
        channels, layers = (int(v) for v in size.split("x"))
        model = untrained(channels, layers, sketch_channels)
        print(row(f"{channels} channels x {layers} layers, {stages}", model, seconds(model, settings), reference))
    for location in args.models:
        model = pixelcnn.load(location).eval()
        name = f"{location} ({model.detail.hidden_channels} x {model.detail.num_layers}, sketch {model.sketch.hidden_channels})"
        print(row(name, model, seconds(model, settings), reference))


if __name__ == "__main__":
    main()
