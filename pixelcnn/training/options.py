"""Every training option once: its name, type, default and help, turned into command-line flags
(`pixelcnn train --help`)."""

import argparse
import dataclasses
import shlex
from dataclasses import dataclass, field


def option(default, help: str = ""):
    return field(default=default, metadata={"help": help})


@dataclass
class Options:
    model: str = option("pixelcnn",
                        "pixelcnn, autoencoder (an encoder and a PixelCNN decoder of its code), or "
                        "mse-autoencoder (the baseline)")
    sketch: int = option(0,
                         "train a two-stage model: a PixelCNN of the image average-pooled by this "
                         "factor (28 -> 7 with 4), and a PixelCNN of the image conditioned on that "
                         "sketch as a spatial map (0 = one stage)")
    sketch_levels: int = option(32, "intensity levels of the sketch, with --sketch")
    stage: str = option("both",
                        "with --sketch: both stages, or sketch: the sketch stage alone (a 7x7 model: "
                        "many more steps a minute), the map and the detail stage kept as --init gave "
                        "them")
    arch: str = option("gated",
                       "gated (the Gated PixelCNN's two stacks) or original (the first PixelCNN's one"
                       " stack of masked convolutions, with its blind spot), for --model pixelcnn")
    code_dim: int = option(10, "the auto-encoders' code size m")
    code_map: int = option(0,
                           "with --model autoencoder: channels of a spatial map m(code), a deconvolution of "
                           "the code that conditions every decoder layer position by position (0 = the "
                           "code is a per-layer bias only)")
    cond_map: int = option(0,
                           "with --model pixelcnn and class or face conditioning: channels of a spatial map "
                           "m(h), a deconvolution of the conditioning vector that conditions every layer "
                           "position by position (the paper's section 2.3; 0 = the vector biases each layer "
                           "only; with --sketch, the detail stage's). With --init from weights without one, the map "
                           "starts at zero")
    dataset: str = option("mnist", "mnist, fashion-mnist, orl-faces, photo-patches, or folder")
    folder: str = option("", "with --dataset folder: a folder of class subfolders")
    image_size: int = option(0, "resize to this square size; 0 keeps the dataset's own size")
    channels: int = option(1, "1 (grey) or 3 (RGB), for --dataset folder")
    levels: int = option(256, "intensity levels per sub-pixel (2..256): the size of each softmax")
    hidden_channels: int = option(32, "feature channels of every layer (a multiple of the image's channels)")
    num_layers: int = option(8, "gated (or masked) layers")
    detail_channels: int = option(0,
                                  "with --sketch: feature channels of the detail stage alone (0 = --hidden-channels, "
                                  "which then sizes the sketch stage only). With --init from a narrower detail stage, "
                                  "the new channels start silent, so the run starts as exactly that model")
    kernel_size: int = option(5, "odd kernel size of the causal convolutions")
    conditioning: str = option("class", "class | none | face (each image's own face embedding)")
    flip: bool = option(False, "mirror a random half of each batch left-right (for faces and photos, not digits)")
    shift: int = option(0,
                        "move each training image by up to this many pixels in each direction (a random "
                        "amount per image, the edge pixels repeated into the gap), so the model learns "
                        "the face, not where the photo put it")
    rotate: float = option(0.0, "turn each training image about its centre by a random angle of up to this many degrees")
    zoom: float = option(0.0, "resize each training image about its centre by a random factor in [1 - z, 1 + z]")
    brightness: float = option(0.0,
                               "scale each training image's intensities by a random factor in [1 - b, 1 + b] "
                               "(clipped to the levels), so lighting is not learnt as identity")
    weight_decay: float = option(0.0, "decoupled weight decay (AdamW) of every parameter; 0 = Adam")
    cond_noise: float = option(0.0,
                               "std of Gaussian noise added to each face embedding while training, so"
                               " the model learns the person, not the photo (the embedding is put "
                               "back on the unit sphere)")
    cond_dropout: float = option(0.0,
                                 "share of each batch whose conditioning (class, face embedding or "
                                 "code) is replaced by 'none', so the model also learns the "
                                 "unconditional distribution and can be sampled with classifier-free "
                                 "guidance")
    init: str = option("",
                       "start from these weights (a save_pretrained folder or a Hub location) instead"
                       " of random ones; the architecture options must match them")
    precision: str = option("auto",
                            "auto, fp32 or bf16: the forward and backward pass under bf16 autocast "
                            "(the loss in fp32); auto picks bf16 where the CPU (avx512_bf16 / "
                            "amx_bf16) or the GPU does it natively")
    batch_size: int = option(64, "global batch, split over torchrun processes")
    lr: float = option(2e-3, "Adam's peak learning rate")
    schedule: str = option("cosine", "cosine | constant, after a linear warm-up")
    warmup_steps: int = option(200, "steps of linear learning-rate warm-up")
    epochs: int = option(10, "passes over the training images")
    time_budget: float = option(0.0, "minutes; stop and save when spent (0 = no limit)")
    max_steps: int = option(0, "stop after this many steps (0 = no limit)")
    ema: float = option(0.999, "decay of the EMA weights used for eval and export (0 = off)")
    grad_clip: float = option(1.0, "clip the gradient norm to this (0 = off)")
    seed: int = option(0, "seed of the weights, the data order and the samples")
    out: str = option("runs/pixelcnn","the run's folder: logs, checkpoint.pt, samples, curves, and model/ at the end")
    checkpoint_minutes: float = option(5.0, "minutes between checkpoints (and one at the end of every epoch)")
    resume: bool = option(False, "continue from OUT/checkpoint.pt (weights, optimiser, schedule, step, logs)")
    test_limit: int = option(2000, "test images evaluated after each epoch (the final evaluation uses all)")
    samples_per_class: int = option(8, "samples per class (or per person) in samples.png")
    threads: int = option(0, "torch threads per process (0 = cores / processes)")
    compile: bool = option(False,
                           "torch.compile the model (on the CPU it needs a C++ compiler; without one "
                           "it warns and trains in eager mode)")
    channels_last: bool = option(False, "keep weights and activations in channels-last memory order")
    push_to_hub: str = option("", "a Hub repo id to publish the final model to")
    log_every: int = option(50, "steps between lines of steps.jsonl")


def add_options(parser: argparse.ArgumentParser) -> None:
    """A flag per Options field (--hidden-channels for hidden_channels), with its default and help."""
    for f in dataclasses.fields(Options):
        flag = "--" + f.name.replace("_", "-")
        if f.type is bool or f.type == "bool":
            parser.add_argument(flag, action="store_true", help=f.metadata["help"])
        else:
            kind = {"int": int, "float": float, "str": str}.get(str(f.type), f.type)
            parser.add_argument(flag, type=kind, default=f.default, help=f"{f.metadata['help']} (default: {f.default})".lstrip())


def options_from(args: argparse.Namespace) -> Options:
    return Options(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Options)})


def command_line(opts: Options) -> str:
    """The `pixelcnn train` command that gives these options: every option that is not its default."""
    words = ["pixelcnn", "train"]
    for f in dataclasses.fields(Options):
        value = getattr(opts, f.name)
        if value != f.default:
            flag = "--" + f.name.replace("_", "-")
            words += [flag] if isinstance(value, bool) else [flag, str(value)]
    return shlex.join(words)
