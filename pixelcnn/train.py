"""Train a conditional Gated PixelCNN.

    python -m pixelcnn.train --dataset mnist --epochs 20 --out runs/mnist
    torchrun --nproc_per_node 4 -m pixelcnn.train --dataset fashion-mnist --out runs/fmnist
    python -m pixelcnn.train --model autoencoder --code-dim 10 --dataset mnist --out runs/ae-m10

One process or many (torchrun sets WORLD_SIZE; DDP over gloo on the CPU, nccl on CUDA).
Rank 0 alone logs, evaluates and writes: metrics.jsonl (a line per epoch), steps.jsonl,
samples.png (a row per class), curves.png, checkpoint.pt (atomic, on a timer and at the end;
--resume continues from it), and model/ (save_pretrained plus a model card).
"""

import argparse
import dataclasses
import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DistributedSampler
from tqdm import tqdm

from . import data as datasets
from .autoencoder import MSEAutoEncoder, PixelCNNAutoEncoder
from .cards import plot_curves, sample_grid, write_model_card
from .faces import EMBEDDING
from .metrics import mean_loss
from .model import GatedPixelCNN, PixelCNNBase
from .original import PixelCNN
from .trainset import load_data
from .twostage import TwoStagePixelCNN


@dataclass
class Options:
    model: str = "pixelcnn"  # pixelcnn | autoencoder (PixelCNN decoder of a code) | mse-autoencoder
    sketch: int = 0  # draw a sketch first: the image average-pooled by this factor (0 = one stage)
    sketch_levels: int = 32  # intensity levels of the sketch, with --sketch
    stage: str = "both"  # with --sketch: both | sketch (train the sketch stage alone, the rest kept as --init gave it)
    arch: str = "gated"  # gated (two stacks, 2016b) | original (one stack of masked convolutions, 2016a), for --model pixelcnn
    code_dim: int = 10  # the auto-encoders' code size m
    dataset: str = "mnist"  # mnist | fashion-mnist | orl-faces | photo-patches | folder
    folder: str = ""  # with --dataset folder: one subfolder of images per class
    image_size: int = 0  # resize to this square size; 0 keeps the dataset's own size
    channels: int = 1  # 1 (grey) or 3 (RGB), for --dataset folder
    levels: int = 256
    hidden_channels: int = 32
    num_layers: int = 8
    kernel_size: int = 5
    conditioning: str = "class"  # class | none | face (each image's own face embedding)
    flip: bool = False  # mirror a random half of each batch left-right (faces, photos; not digits)
    cond_noise: float = 0.0  # std of Gaussian noise on each face embedding while training (then back to unit length)
    cond_dropout: float = 0.0  # share of each batch trained with "none" conditioning (enables classifier-free guidance)
    init: str = ""  # start from these weights (a save_pretrained folder or Hub location) instead of random ones
    precision: str = "auto"  # auto | fp32 | bf16 (autocast; auto = bf16 where the hardware does it natively)
    batch_size: int = 64  # global, over all processes
    lr: float = 2e-3
    schedule: str = "cosine"  # cosine | constant, after a linear warm-up
    warmup_steps: int = 200
    epochs: int = 10
    time_budget: float = 0.0  # minutes; stop and save when spent (0 = no limit)
    max_steps: int = 0  # stop after this many steps (0 = no limit)
    ema: float = 0.999  # decay of the weights' moving average used for eval and export (0 = off)
    grad_clip: float = 1.0
    seed: int = 0
    out: str = "runs/pixelcnn"
    checkpoint_minutes: float = 5.0
    resume: bool = False
    test_limit: int = 2000  # test images per epoch (the final evaluation uses all)
    samples_per_class: int = 8
    threads: int = 0  # torch threads per process; 0 = cores / processes
    compile: bool = False  # torch.compile (on the CPU it needs a C++ compiler; without one, a warning and eager mode)
    channels_last: bool = False  # keep weights and activations in channels-last memory order
    push_to_hub: str = ""  # a Hub repo id to publish the final model to
    log_every: int = 50


HELP = {
    "sketch": "train a two-stage model: a PixelCNN of the image average-pooled by this factor (28 -> 7 with 4), and a "
    "PixelCNN of the image conditioned on that sketch as a spatial map (0 = one stage)",
    "sketch_levels": "intensity levels of the sketch, with --sketch",
    "stage": "with --sketch: both stages, or sketch: the sketch stage alone (a 7x7 model: many more steps a minute), the map and "
    "the detail stage kept as --init gave them",
    "compile": "torch.compile the model (on the CPU it needs a C++ compiler; without one it warns and trains in eager mode)",
    "channels_last": "keep weights and activations in channels-last memory order",
    "model": "pixelcnn, autoencoder (an encoder and a PixelCNN decoder of its code), or mse-autoencoder (the baseline)",
    "arch": "gated (the Gated PixelCNN's two stacks) or original (the first PixelCNN's one stack of masked "
    "convolutions, with its blind spot), for --model pixelcnn",
    "code_dim": "the auto-encoders' code size m",
    "dataset": "mnist, fashion-mnist, orl-faces, photo-patches, or folder",
    "folder": "with --dataset folder: a folder of class subfolders",
    "time_budget": "minutes; stop and save when spent (0 = no limit)",
    "ema": "decay of the EMA weights used for eval and export (0 = off)",
    "batch_size": "global batch, split over torchrun processes",
    "threads": "torch threads per process (0 = cores / processes)",
    "test_limit": "test images evaluated after each epoch (the final evaluation uses all)",
    "flip": "mirror a random half of each batch left-right (for faces and photos, not digits)",
    "cond_dropout": "share of each batch whose conditioning (class, face embedding or code) is replaced by 'none', "
    "so the model also learns the unconditional distribution and can be sampled with classifier-free guidance",
    "init": "start from these weights (a save_pretrained folder or a Hub location) instead of random ones; the "
    "architecture options must match them",
    "precision": "auto, fp32 or bf16: the forward and backward pass under bf16 autocast (the loss in fp32); "
    "auto picks bf16 where the CPU (avx512_bf16 / amx_bf16) or the GPU does it natively",
    "cond_noise": "std of Gaussian noise added to each face embedding while training, so the model learns the person, "
    "not the photo (the embedding is put back on the unit sphere)",
}


def parse_args(argv=None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m pixelcnn.train", description=__doc__.strip().splitlines()[0])
    for field in dataclasses.fields(Options):
        flag = "--" + field.name.replace("_", "-")
        if field.type is bool or field.type == "bool":
            parser.add_argument(flag, action="store_true", help=HELP.get(field.name))
        else:
            kind = {"int": int, "float": float, "str": str}.get(str(field.type), field.type)
            parser.add_argument(flag, type=kind, default=field.default, help=f"{HELP.get(field.name, '')} (default: {field.default})")
    return Options(**vars(parser.parse_args(argv)))


# -- distributed --------------------------------------------------------------------------------


@dataclass
class World:
    rank: int = 0
    size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_world(opts: Options) -> World:
    size = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local_rank}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    if size > 1:
        dist.init_process_group("nccl" if cuda else "gloo")
    torch.set_num_threads(opts.threads or max(1, (os.cpu_count() or 1) // size))
    return World(dist.get_rank() if size > 1 else 0, size, device)


def native_bf16(device: torch.device) -> bool:
    """Whether this device does bf16 arithmetic in hardware (not emulated through fp32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """--precision -> the autocast dtype (None = plain fp32)."""
    if precision not in ("auto", "fp32", "bf16"):
        raise SystemExit(f"--precision must be auto, fp32 or bf16, not {precision!r}.")
    if precision == "bf16" or (precision == "auto" and native_bf16(device)):
        return torch.bfloat16
    return None


def mean_over_ranks(value: torch.Tensor, world: World) -> torch.Tensor:
    if world.size > 1:
        value = value.detach().clone()
        dist.all_reduce(value)
        value /= world.size
    return value


# -- data and model -----------------------------------------------------------------------------


def build_model(opts: Options, d: datasets.ImageDataset):
    channels, h, w = d.image_shape
    if opts.model == "mse-autoencoder":
        return MSEAutoEncoder(image_channels=channels, image_size=[h, w], levels=opts.levels, code_dim=opts.code_dim, dataset=d.name)
    if opts.model == "autoencoder":
        return PixelCNNAutoEncoder(
            image_channels=channels, image_size=[h, w], levels=opts.levels, code_dim=opts.code_dim, hidden_channels=opts.hidden_channels,
            num_layers=opts.num_layers, kernel_size=opts.kernel_size, cond_dropout=opts.cond_dropout, dataset=d.name,
        )
    if opts.model != "pixelcnn":
        raise SystemExit(f"--model must be pixelcnn, autoencoder or mse-autoencoder, not {opts.model!r}.")
    if opts.arch not in ("gated", "original"):
        raise SystemExit(f"--arch must be gated or original, not {opts.arch!r}.")
    class_cond = opts.conditioning == "class"
    face_cond = opts.conditioning == "face"
    if opts.sketch and opts.arch != "gated":
        raise SystemExit("--sketch needs --arch gated.")
    if opts.stage not in ("both", "sketch") or (opts.stage == "sketch" and not opts.sketch):
        raise SystemExit("--stage is both or sketch, and sketch needs --sketch FACTOR.")
    build = (lambda **config: TwoStagePixelCNN.build(opts.sketch, opts.sketch_levels, **config)) if opts.sketch else (
        GatedPixelCNN if opts.arch == "gated" else PixelCNN)
    return build(
        image_channels=channels,
        image_size=[h, w],
        levels=opts.levels,
        hidden_channels=opts.hidden_channels,
        num_layers=opts.num_layers,
        kernel_size=opts.kernel_size,
        num_classes=len(d.class_names) if class_cond else 0,
        class_names=d.class_names if class_cond else None,
        cond_dim=d.train_cond.shape[1] if face_cond else 0,
        cond_name=EMBEDDING if face_cond else "",
        cond_dropout=opts.cond_dropout if class_cond or face_cond else 0.0,
        dataset=d.name,
    )


def load_init(model, location: str) -> None:
    """Copy the weights saved at `location` (a save_pretrained folder or a Hub location) into model."""
    from safetensors.torch import load_file

    from .hub import fetch

    folder = Path(location) if Path(location).is_dir() else fetch(location)
    weights = load_file(folder / "model.safetensors")
    try:
        if isinstance(model, TwoStagePixelCNN) and not any(key.startswith("detail.") for key in weights):
            model.start_detail_from(weights)  # a single-stage model starts the detail stage
        else:
            model.load_state_dict(weights)
    except (RuntimeError, ValueError) as error:
        raise SystemExit(f"--init {location}: its weights do not fit this model's options ({str(error).splitlines()[0]}); "
                         f"use the options in {folder / 'config.json'}.") from None


def batch_loss(net, model, x, labels=None, cond=None, unconditional=None, precision: torch.dtype | None = None, stage: str = "both"
               ) -> torch.Tensor:
    """One batch's training loss (with stage "sketch", a two-stage model's sketch stage alone), computed in fp32 from a forward pass under autocast(precision):
    bits/dim (mean NLL per sub-pixel in bits) for the PixelCNNs, MSE for the MSE auto-encoder.
    net: the model, or its DDP / compiled wrapper; x: (B, C, H, W) ints."""
    with torch.autocast(x.device.type, dtype=precision or torch.float32, enabled=precision is not None):
        if isinstance(model, TwoStagePixelCNN) and stage == "sketch":
            sketch = model.sketch_of(x)  # the sketch stage's own bits per sketch sub-pixel
            return F.cross_entropy(model.sketch(sketch, labels, cond, None, unconditional).float(), sketch) / math.log(2)
        if isinstance(model, TwoStagePixelCNN):
            return model.bits(x, net(x, labels, cond, None, unconditional)).mean()
        if isinstance(model, PixelCNNBase):
            prediction = net(x, labels, cond, None, unconditional)
        else:
            prediction = net(x) if isinstance(model, MSEAutoEncoder) else net(x, unconditional)
    if isinstance(model, MSEAutoEncoder):
        return F.mse_loss(prediction.float(), model.unit(x))
    return F.cross_entropy(prediction.float(), x) / math.log(2)


def compiled(net, device: torch.device):
    """torch.compile(net) where a compiler is at hand (a C++ compiler on the CPU), else net as it is."""
    import shutil

    if device.type == "cpu" and not shutil.which(os.environ.get("CXX", "g++")):
        print("--compile: no C++ compiler found (set CXX); training without torch.compile", file=sys.stderr)
        return net
    return torch.compile(net)


def lr_factor(step: int, total: int, opts: Options, minutes: float = 0.0) -> float:
    """Linear warm-up, then cosine to zero over the steps or, if sooner, over the time budget."""
    if step < opts.warmup_steps:
        return (step + 1) / opts.warmup_steps
    if opts.schedule == "constant":
        return 1.0
    progress = (step - opts.warmup_steps) / max(1, total - opts.warmup_steps)
    if opts.time_budget:
        progress = max(progress, minutes / opts.time_budget)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


# -- outputs ------------------------------------------------------------------------------------


def atomic_save(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def trim_logs(out: Path, step: int, metrics: list[dict]) -> None:
    """After a resume, drop log lines written past the checkpoint (they will be written again)."""
    steps_log = out / "steps.jsonl"
    if steps_log.exists():
        kept = [line for line in steps_log.read_text().splitlines() if json.loads(line)["step"] <= step]
        steps_log.write_text("".join(line + "\n" for line in kept))
    (out / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))


def hardware(world: World) -> str:
    if world.device.type == "cuda":
        what = f"{world.size} x {torch.cuda.get_device_name(world.device)}"
    else:
        what = f"{world.size} process(es) x {torch.get_num_threads()} thread(s) on {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()})"
    return f"{what}, torch {torch.__version__}"


# -- the loop -----------------------------------------------------------------------------------


def train(opts: Options) -> Path:
    world = setup_world(opts)
    out = Path(opts.out)
    d = load_data(opts.dataset, opts.folder, opts.image_size, opts.channels, opts.conditioning)
    torch.manual_seed(opts.seed)
    model = build_model(opts, d)
    if opts.init and not (opts.resume and (out / "checkpoint.pt").exists()):
        load_init(model, opts.init)
    model = model.to(world.device)
    precision = autocast_dtype(opts.precision, world.device)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(opts.ema)) if opts.ema else None
    optimizer = torch.optim.Adam(model.parameters(), lr=opts.lr)
    if opts.batch_size % world.size:
        raise SystemExit(f"--batch-size {opts.batch_size} must divide evenly over {world.size} processes.")
    local_batch = opts.batch_size // world.size
    sampler = DistributedSampler(range(len(d.train_y)), world.size, world.rank, shuffle=True, seed=opts.seed, drop_last=True)
    steps_per_epoch = len(sampler) // local_batch
    total_steps = steps_per_epoch * opts.epochs
    step, elapsed, metrics = 0, 0.0, []
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, total_steps, opts, elapsed / 60))

    checkpoint_path = out / "checkpoint.pt"
    if opts.resume and checkpoint_path.exists():
        state = torch.load(checkpoint_path, map_location=world.device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if ema is not None:
            ema.load_state_dict(state["ema"])
        torch.set_rng_state(state["rng"])
        step, elapsed, metrics = state["step"], state["elapsed"], json.loads(state["metrics"])
    elif opts.resume and world.main:
        print(f"no checkpoint at {checkpoint_path}: starting fresh", file=sys.stderr)
    if world.main:
        out.mkdir(parents=True, exist_ok=True)
        trim_logs(out, step, metrics)

    net = model
    if opts.channels_last:
        model.to(memory_format=torch.channels_last)
    if opts.compile:
        net = compiled(net, world.device)
    if world.size > 1:
        net = DistributedDataParallel(net, device_ids=[world.device.index] if world.device.type == "cuda" else None)

    def save_checkpoint():
        if world.main:
            state = {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "ema": ema.state_dict() if ema is not None else {},
                "rng": torch.get_rng_state(),
                "step": step,
                "elapsed": elapsed,
                "metrics": json.dumps(metrics),
                "options": json.dumps(dataclasses.asdict(opts)),
            }
            atomic_save(state, checkpoint_path)

    train_x = torch.from_numpy(datasets.quantize(d.train_x, opts.levels))
    train_y = torch.from_numpy(d.train_y)
    class_cond, vector_cond = getattr(model, "num_classes", 0), getattr(model, "cond_dim", 0)
    train_cond = torch.from_numpy(d.train_cond) if vector_cond else None
    key, words = model.MEASURE
    eval_model = ema.module if ema is not None else model
    augment = torch.Generator().manual_seed(opts.seed + 1000 * step + world.rank)
    started, last_checkpoint = time.time() - elapsed, time.time()
    stop = False
    max_steps = min(total_steps, opts.max_steps) if opts.max_steps else total_steps
    bar = tqdm(total=max_steps, initial=step, disable=not world.main, desc="train", unit="step", dynamic_ncols=True)
    while step < max_steps and not stop:
        epoch = step // steps_per_epoch
        sampler.set_epoch(epoch)
        order = torch.tensor(list(sampler))
        epoch_losses = []
        model.train()
        for batch_index in range(step % steps_per_epoch, steps_per_epoch):
            tick = time.time()
            idx = order[batch_index * local_batch : (batch_index + 1) * local_batch]
            x = train_x[idx].to(world.device)
            if opts.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            if opts.flip:
                mirrored = torch.rand(len(x), generator=augment) < 0.5
                x[mirrored] = x[mirrored].flip(-1)
            labels = train_y[idx].to(world.device) if class_cond else None
            cond = train_cond[idx].to(world.device) if train_cond is not None else None
            if cond is not None and opts.cond_noise:
                cond = F.normalize(cond + opts.cond_noise * torch.randn(cond.shape, generator=augment).to(cond.device), dim=1)
            unconditional = (torch.rand(len(x), generator=augment) < opts.cond_dropout).to(world.device) if opts.cond_dropout else None
            loss = batch_loss(net, model, x, labels, cond, unconditional, precision, opts.stage)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if opts.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), opts.grad_clip)
            optimizer.step()
            scheduler.step()
            if ema is not None:
                ema.update_parameters(model)
            step += 1
            value = mean_over_ranks(loss, world).item()
            epoch_losses.append(value)
            if world.main:
                bar.update(1)
                bar.set_postfix({key: f"{value:.4f}", "img_s": f"{opts.batch_size / (time.time() - tick):.0f}", "epoch": epoch})
                if step == 1 or step % opts.log_every == 0:
                    with open(out / "steps.jsonl", "a") as f:
                        f.write(json.dumps({"step": step, key: value, "lr": scheduler.get_last_lr()[0]}) + "\n")
            elapsed = time.time() - started
            if opts.time_budget and elapsed > opts.time_budget * 60:
                stop = True
            if step >= max_steps or stop:
                break
            # The epoch's last step is checkpointed after its evaluation, below.
            if batch_index + 1 < steps_per_epoch and time.time() - last_checkpoint > opts.checkpoint_minutes * 60:
                save_checkpoint()
                last_checkpoint = time.time()
        if world.main and (batch_index + 1 == steps_per_epoch):
            limit = opts.test_limit or len(d.test_y)
            test_cond = d.test_cond[:limit] if d.test_cond is not None else None
            test_value = mean_loss(eval_model, d.test_x[:limit], d.test_y[:limit], test_cond, world.device)
            metrics.append({"epoch": epoch + 1, "step": step, f"train_{key}": float(np.mean(epoch_losses)), f"test_{key}": test_value, "minutes": elapsed / 60})
            with open(out / "metrics.jsonl", "a") as f:
                f.write(json.dumps(metrics[-1]) + "\n")
            bar.write(f"epoch {epoch + 1}: train {metrics[-1][f'train_{key}']:.4f} {words}, test {test_value:.4f} (first {limit})")
            sample_grid(eval_model, opts.samples_per_class, opts.seed, out / "samples.png", d.test_cond, d.test_x)
            plot_curves(metrics, out / "curves.png", key, words)
        save_checkpoint()
        last_checkpoint = time.time()
    bar.close()
    if world.main:
        finish(eval_model, d, opts, world, step, elapsed, out)
    if world.size > 1:
        dist.barrier()
        dist.destroy_process_group()
    return out / "model"


def training_line(opts: Options, world: World) -> str:
    """Batch, optimiser and arithmetic of a run, in words, for its model card."""
    precision = autocast_dtype(opts.precision, world.device)
    words = f"batch {opts.batch_size}, Adam lr {opts.lr} ({opts.schedule}), EMA {opts.ema}, {'bf16 autocast' if precision else 'fp32'}"
    if opts.cond_dropout:
        words += f", conditioning dropout {opts.cond_dropout:g}"
    if opts.init:
        words += f", started from the weights in `{opts.init}`"
    return words


def finish(model, d, opts, world, step, elapsed, out: Path) -> None:
    """Full test evaluation, save_pretrained, model card, and the optional Hub upload."""
    folder = out / "model"
    key, words = model.MEASURE
    test_value = mean_loss(model, d.test_x, d.test_y, d.test_cond, world.device)
    model.save_pretrained(folder)
    sample_grid(model, opts.samples_per_class, opts.seed, folder / "samples.png", d.test_cond, d.test_x)
    command = " ".join(["torchrun", f"--nproc_per_node {world.size}"] if world.size > 1 else ["python"]) + " -m pixelcnn.train " + " ".join(sys.argv[1:])
    summary = {"command": command, "steps": step, "minutes": elapsed / 60, "hardware": hardware(world), f"test_{key}": test_value,
               "training": training_line(opts, world), "test_weights": "EMA" if opts.ema else "final"}
    (folder / "training.json").write_text(json.dumps(summary, indent=2))
    write_model_card(folder, model, d, summary)
    print(f"saved {folder}: test {words} {test_value:.4f} after {step} steps, {elapsed / 60:.1f} min")
    if opts.push_to_hub:
        from .hub import push_folder

        push_folder(folder, opts.push_to_hub)


def main(argv=None):
    train(parse_args(argv))


if __name__ == "__main__":
    main()
