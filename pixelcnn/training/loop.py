"""The training loop: one process or many under torchrun (DDP), a time budget, EMA weights,
atomic checkpoints to resume from, and at the end the model saved with its card.

    pixelcnn train --dataset mnist --epochs 20 --out runs/mnist
    torchrun --nproc_per_node 4 -m pixelcnn train --dataset fashion-mnist --out runs/fmnist

Rank 0 alone logs, evaluates and writes: metrics.jsonl (a line per epoch), steps.jsonl,
samples.png (a row per class), curves.png, checkpoint.pt (atomic, on a timer and at the end;
--resume continues from it), and model/ (save_pretrained plus a model card).
"""

import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DistributedSampler
from tqdm import tqdm

from pixelcnn.data import quantize
from pixelcnn.hub import push_folder
from pixelcnn.training.augment import brightened, shifted, warped
from pixelcnn.training.build import batch_loss, build_model, load_init
from pixelcnn.evaluation.cards import plot_curves, sample_grid, write_model_card
from pixelcnn.training.metrics import mean_loss
from pixelcnn.training.options import Options
from pixelcnn.training.trainset import load_data
from pixelcnn.training.world import World, autocast_dtype, hardware, mean_over_ranks, setup_world


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


class Run:
    """A run's model, optimiser, schedule, EMA and progress: what a checkpoint holds."""

    def __init__(self, opts: Options, world: World, model, steps_per_epoch: int):
        self.opts, self.world, self.model = opts, world, model
        self.ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(opts.ema)) if opts.ema else None
        self.optimizer = (torch.optim.AdamW(model.parameters(), lr=opts.lr, weight_decay=opts.weight_decay) if opts.weight_decay
                          else torch.optim.Adam(model.parameters(), lr=opts.lr))
        self.steps_per_epoch, self.total_steps = steps_per_epoch, steps_per_epoch * opts.epochs
        self.step, self.elapsed, self.metrics = 0, 0.0, []
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda s: lr_factor(s, self.total_steps, opts, self.elapsed / 60))
        self.checkpoint = Path(opts.out) / "checkpoint.pt"

    @property
    def eval_model(self):
        return self.ema.module if self.ema is not None else self.model

    def resume(self) -> None:
        state = torch.load(self.checkpoint, map_location=self.world.device, weights_only=True)  # our own file: tensors only
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        torch.set_rng_state(state["rng"])
        self.step, self.elapsed, self.metrics = state["step"], state["elapsed"], json.loads(state["metrics"])

    def save(self) -> None:
        if self.world.main:
            atomic_save({"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                         "ema": self.ema.state_dict() if self.ema is not None else {}, "rng": torch.get_rng_state(), "step": self.step,
                         "elapsed": self.elapsed, "metrics": json.dumps(self.metrics), "options": json.dumps(dataclasses.asdict(self.opts))},
                        self.checkpoint)


def start(opts: Options, world: World, d, steps_per_epoch: int) -> tuple[Run, torch.nn.Module]:
    """A run from scratch, from --init weights or from its checkpoint -> (run, the network to train:
    the model, compiled and wrapped in DDP as the options say)."""
    torch.manual_seed(opts.seed)
    model = build_model(opts, d)
    resuming = opts.resume and (Path(opts.out) / "checkpoint.pt").exists()
    if opts.init and not resuming:
        load_init(model, opts.init)
    run = Run(opts, world, model.to(world.device), steps_per_epoch)
    if resuming:
        run.resume()
    elif opts.resume and world.main:
        print(f"no checkpoint at {run.checkpoint}: starting fresh", file=sys.stderr)
    if world.main:
        Path(opts.out).mkdir(parents=True, exist_ok=True)
        trim_logs(Path(opts.out), run.step, run.metrics)
    net = model
    if opts.channels_last:
        model.to(memory_format=torch.channels_last)
    if opts.compile:
        net = compiled(net, world.device)
    if world.size > 1:
        net = DistributedDataParallel(net, device_ids=[world.device.index] if world.device.type == "cuda" else None)
    return run, net


class Batches:
    """The training set as tensors, and each step's batch: images (--flip, --shift, --rotate, --zoom,
    --brightness), labels, conditioning vectors (noised, with --cond-noise) and the rows trained
    unconditioned."""

    def __init__(self, opts: Options, world: World, d, model, step: int):
        self.opts, self.device = opts, world.device
        self.x = torch.from_numpy(quantize(d.train_x, opts.levels))
        self.y = torch.from_numpy(d.train_y) if getattr(model, "num_classes", 0) else None
        self.cond = torch.from_numpy(d.train_cond) if getattr(model, "cond_dim", 0) else None
        self.augment = torch.Generator().manual_seed(opts.seed + 1000 * step + world.rank)

    def __call__(self, idx: torch.Tensor) -> tuple:
        opts, device, augment = self.opts, self.device, self.augment
        x = self.x[idx].to(device)
        if opts.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if opts.flip:
            mirrored = torch.rand(len(x), generator=augment) < 0.5
            x[mirrored] = x[mirrored].flip(-1)
        if opts.shift:
            x = shifted(x, opts.shift, augment)
        if opts.rotate or opts.zoom:
            x = warped(x, opts.rotate, opts.zoom, opts.levels, augment)
        if opts.brightness:
            x = brightened(x, opts.brightness, opts.levels, augment)
        labels = self.y[idx].to(device) if self.y is not None else None
        cond = self.cond[idx].to(device) if self.cond is not None else None
        if cond is not None and opts.cond_noise:
            cond = F.normalize(cond + opts.cond_noise * torch.randn(cond.shape, generator=augment).to(device), dim=1)
        unconditional = (torch.rand(len(x), generator=augment) < opts.cond_dropout).to(device) if opts.cond_dropout else None
        return x, labels, cond, unconditional


def train_step(run: Run, net, batch: tuple, precision) -> float:
    """One optimiser step on one batch -> its loss, averaged over the processes."""
    loss = batch_loss(net, run.model, *batch, precision, run.opts.stage)
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if run.opts.grad_clip:
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), run.opts.grad_clip)
    run.optimizer.step()
    run.scheduler.step()
    if run.ema is not None:
        run.ema.update_parameters(run.model)
    run.step += 1
    return mean_over_ranks(loss, run.world).item()


def end_of_epoch(run: Run, d, epoch: int, losses: list[float], bar) -> None:
    """Test loss on the first --test-limit test images, a metrics line, samples and curves."""
    opts, out = run.opts, Path(run.opts.out)
    key, words = run.model.LOSS
    words = "bits per sketch sub-pixel" if opts.stage == "sketch" else words
    limit = opts.test_limit or len(d.test_y)
    test_cond = d.test_cond[:limit] if d.test_cond is not None else None
    test_value = mean_loss(run.eval_model, d.test_x[:limit], d.test_y[:limit], test_cond, run.world.device, stage=opts.stage)
    run.metrics.append({"epoch": epoch + 1, "step": run.step, f"train_{key}": float(np.mean(losses)), f"test_{key}": test_value,
                        "minutes": run.elapsed / 60})
    with open(out / "metrics.jsonl", "a") as f:
        f.write(json.dumps(run.metrics[-1]) + "\n")
    bar.write(f"epoch {epoch + 1}: train {run.metrics[-1][f'train_{key}']:.4f} {words}, test {test_value:.4f} (first {limit})")
    sample_grid(run.eval_model, opts.samples_per_class, opts.seed, out / "samples.png", d.test_cond, d.test_x)
    plot_curves(run.metrics, out / "curves.png", key, words)


def log_step(run: Run, value: float, epoch: int, tick: float, bar) -> None:
    key = run.model.LOSS[0]
    bar.update(1)
    bar.set_postfix({key: f"{value:.4f}", "img_s": f"{run.opts.batch_size / (time.time() - tick):.0f}", "epoch": epoch})
    if run.step == 1 or run.step % run.opts.log_every == 0:
        with open(Path(run.opts.out) / "steps.jsonl", "a") as f:
            f.write(json.dumps({"step": run.step, key: value, "lr": run.scheduler.get_last_lr()[0]}) + "\n")


def train(opts: Options, command: str = "") -> Path:
    """Train as the options say -> the folder of the saved model (OUT/model). command: the command
    line, for the model card (torchrun's launcher is added when there are several processes)."""
    world = setup_world(opts.threads)
    d = load_data(opts.dataset, opts.folder, opts.image_size, opts.channels, opts.conditioning)
    if opts.batch_size % world.size:
        raise SystemExit(f"--batch-size {opts.batch_size} must divide evenly over {world.size} processes.")
    local_batch = opts.batch_size // world.size
    sampler = DistributedSampler(range(len(d.train_y)), world.size, world.rank, shuffle=True, seed=opts.seed, drop_last=True)
    run, net = start(opts, world, d, len(sampler) // local_batch)
    precision = autocast_dtype(opts.precision, world.device)
    batches = Batches(opts, world, d, run.model, run.step)
    started, last_checkpoint = time.time() - run.elapsed, time.time()
    max_steps = min(run.total_steps, opts.max_steps) if opts.max_steps else run.total_steps
    bar = tqdm(total=max_steps, initial=run.step, disable=not world.main, desc="train", unit="step", dynamic_ncols=True)
    stop = False
    while run.step < max_steps and not stop:
        epoch = run.step // run.steps_per_epoch
        sampler.set_epoch(epoch)
        order, losses = torch.tensor(list(sampler)), []
        run.model.train()
        for batch_index in range(run.step % run.steps_per_epoch, run.steps_per_epoch):
            tick = time.time()
            losses.append(train_step(run, net, batches(order[batch_index * local_batch : (batch_index + 1) * local_batch]), precision))
            if world.main:
                log_step(run, losses[-1], epoch, tick, bar)
            run.elapsed = time.time() - started
            stop = bool(opts.time_budget and run.elapsed > opts.time_budget * 60)
            if run.step >= max_steps or stop:
                break
            # The epoch's last step is checkpointed after its evaluation, below.
            if batch_index + 1 < run.steps_per_epoch and time.time() - last_checkpoint > opts.checkpoint_minutes * 60:
                run.save()
                last_checkpoint = time.time()
        if world.main and batch_index + 1 == run.steps_per_epoch:
            end_of_epoch(run, d, epoch, losses, bar)
        run.save()
        last_checkpoint = time.time()
    bar.close()
    if world.main:
        finish(run, d, command)
    if world.size > 1:
        dist.barrier()
        dist.destroy_process_group()
    return Path(opts.out) / "model"


def training_line(opts: Options, world: World) -> str:
    """Batch, optimiser and arithmetic of a run, in words, for its model card."""
    precision = autocast_dtype(opts.precision, world.device)
    optimiser = f"AdamW (weight decay {opts.weight_decay:g})" if opts.weight_decay else "Adam"
    words = f"batch {opts.batch_size}, {optimiser} lr {opts.lr} ({opts.schedule}), EMA {opts.ema}, {'bf16 autocast' if precision else 'fp32'}"
    if opts.cond_dropout:
        words += f", conditioning dropout {opts.cond_dropout:g}"
    augmented = [name for name, on in (("mirrored", opts.flip), (f"moved by up to {opts.shift} px", opts.shift),
                                       (f"turned by up to {opts.rotate:g} degrees", opts.rotate),
                                       (f"resized by up to x{1 + opts.zoom:g}", opts.zoom),
                                       (f"brightness x[{1 - opts.brightness:g}, {1 + opts.brightness:g}]", opts.brightness)) if on]
    if augmented:
        words += ", images " + ", ".join(augmented)
    if opts.init:
        words += f", started from the weights in `{opts.init}`"
    return words


def finish(run: Run, d, command: str, exported: str = "") -> None:
    """Full test evaluation, save_pretrained, model card, and the optional Hub upload. exported: how
    a stopped run's checkpoint was saved (`training.export`), for the card."""
    opts, world, model = run.opts, run.world, run.eval_model
    folder = Path(opts.out) / "model"
    key, words = model.LOSS
    test_value = mean_loss(model, d.test_x, d.test_y, d.test_cond, world.device)
    model.save_pretrained(folder)
    sample_grid(model, opts.samples_per_class, opts.seed, folder / "samples.png", d.test_cond, d.test_x)
    if world.size > 1:
        command = command.replace("pixelcnn ", f"torchrun --nproc_per_node {world.size} -m pixelcnn ", 1)
    summary = {"command": command, "steps": run.step,
               "minutes": run.elapsed / 60, "hardware": hardware(world), f"test_{key}": test_value, "training": training_line(opts, world),
               "test_weights": "EMA" if opts.ema else "final", **({"exported": exported} if exported else {})}
    (folder / "training.json").write_text(json.dumps(summary, indent=2))
    write_model_card(folder, model, d, summary)
    print(f"saved {folder}: test {words} {test_value:.4f} after {run.step} steps, {run.elapsed / 60:.1f} min")
    if opts.push_to_hub:
        push_folder(folder, opts.push_to_hub)
