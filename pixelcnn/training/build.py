"""What a run trains: the model its options describe (or the weights it starts from), and each
kind of model's training loss."""

import math

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from pixelcnn.data import ImageDataset
from pixelcnn.faces import EMBEDDING
from pixelcnn.loader import local_folder
from pixelcnn.models import GatedPixelCNN, MSEAutoEncoder, PixelCNN, PixelCNNAutoEncoder, TwoStagePixelCNN
from pixelcnn.training.options import Options
from pixelcnn.training.widen import widened_weights


def build_model(opts: Options, d: ImageDataset):
    """A new model of the kind and size the options name, for the dataset's images and classes."""
    channels, h, w = d.image_shape
    if opts.model == "mse-autoencoder":
        return MSEAutoEncoder(image_channels=channels, image_size=[h, w], levels=opts.levels, code_dim=opts.code_dim, dataset=d.name)
    if opts.model == "autoencoder":
        return PixelCNNAutoEncoder(
            image_channels=channels, image_size=[h, w], levels=opts.levels, code_dim=opts.code_dim, hidden_channels=opts.hidden_channels,
            num_layers=opts.num_layers, kernel_size=opts.kernel_size, cond_dropout=opts.cond_dropout, code_map_channels=opts.code_map,
            dataset=d.name,
        )
    check_pixelcnn_options(opts)
    class_cond, face_cond = opts.conditioning == "class", opts.conditioning == "face"
    build = (lambda **config: TwoStagePixelCNN.build(opts.sketch, opts.sketch_levels, sketch_channels=opts.hidden_channels, **config)
             ) if opts.sketch else (GatedPixelCNN if opts.arch == "gated" else PixelCNN)
    return build(
        image_channels=channels, image_size=[h, w], levels=opts.levels, hidden_channels=opts.detail_channels or opts.hidden_channels,
        num_layers=opts.num_layers,
        kernel_size=opts.kernel_size, num_classes=len(d.class_names) if class_cond else 0, class_names=d.class_names if class_cond else None,
        cond_dim=d.train_cond.shape[1] if face_cond else 0, cond_name=EMBEDDING if face_cond else "",
        cond_dropout=opts.cond_dropout if class_cond or face_cond else 0.0, dataset=d.name,
        **({"vector_map_channels": opts.cond_map} if opts.cond_map else {}),
    )


def check_pixelcnn_options(opts: Options) -> None:
    if opts.model != "pixelcnn":
        raise SystemExit(f"--model must be pixelcnn, autoencoder or mse-autoencoder, not {opts.model!r}.")
    if opts.cond_map and (opts.conditioning == "none" or opts.cond_map < 0):
        raise SystemExit("--cond-map makes a map of the conditioning vector: use it with --conditioning class or face "
                         "(with --sketch, the detail stage gets it).")
    if opts.arch not in ("gated", "original"):
        raise SystemExit(f"--arch must be gated or original, not {opts.arch!r}.")
    if opts.sketch and opts.arch != "gated":
        raise SystemExit("--sketch needs --arch gated.")
    if opts.stage not in ("both", "sketch") or (opts.stage == "sketch" and not opts.sketch):
        raise SystemExit("--stage is both or sketch, and sketch needs --sketch FACTOR.")
    if opts.detail_channels and (not opts.sketch or opts.detail_channels < 0):
        raise SystemExit("--detail-channels sizes a two-stage model's detail stage: use it with --sketch FACTOR, and 1 or more.")


def load_init(model, location: str) -> None:
    """Copy the weights saved at `location` (a save_pretrained folder or a Hub location) into model;
    a one-stage model's weights start a two-stage model's detail stage, and a narrower detail stage
    a wider one (`widen`); any other difference of shape is refused in one sentence."""
    folder = local_folder(location)
    weights = load_file(folder / "model.safetensors")
    own = model.state_dict()
    differ = [key for key, value in weights.items() if key in own and own[key].shape != value.shape]
    try:
        if model.STAGED and differ and set(weights) == set(own) and all(key.startswith("detail.") for key in differ):
            model.load_state_dict(widened_weights(model, weights))  # --detail-channels wider than the saved stage
        elif model.STAGED and not any(key.startswith("detail.") for key in weights):
            model.start_detail_from(weights)
        elif getattr(model, "vector_map", None) is not None and not any("vector_map." in key for key in weights):
            start_map_from(model, weights)
        else:
            model.load_state_dict(weights)
    except (RuntimeError, ValueError) as error:
        raise SystemExit(f"--init {location}: its weights do not fit this model's options ({str(error).splitlines()[0]}); "
                         f"use the options in {folder / 'config.json'}.") from None


def start_map_from(model, weights: dict) -> None:
    """Weights of the same model without a map m(h) (a one-stage model, or a two-stage model whose
    detail stage gets one): every other weight copied; the map and each layer's input from it
    start at zero (a layer that already read a sketch map keeps those weights, its new inputs added),
    so the model starts as the one the weights came from."""
    own = model.state_dict()
    weights = {key: widened(own.get(key), value) if key.endswith(".cond_map.weight") else value for key, value in weights.items()}
    missing, unexpected = model.load_state_dict(weights, strict=False)
    new = [key for key in missing if not ("vector_map." in key or ".cond_map." in key)]
    if unexpected or new:
        raise RuntimeError(f"unexpected keys {unexpected[:3]}, missing {new[:3]}")
    with torch.no_grad():
        for key in missing:
            if key.endswith(".cond_map.bias"):
                model.get_parameter(key).zero_()


def widened(mine: torch.Tensor | None, saved: torch.Tensor) -> torch.Tensor:
    """A layer's map-input weights that now take more input channels than the saved ones: the saved
    weights copied in, the new inputs' weights as initialised (the map itself starts at zero); the
    saved weights as they are otherwise."""
    if mine is None or mine.shape[0] != saved.shape[0] or mine.shape[1] <= saved.shape[1]:
        return saved
    out = mine.clone()
    out[:, : saved.shape[1]] = saved
    return out


# -- each kind's loss, from a forward pass through `net` (the model, or its DDP / compiled wrapper) --


def pixelcnn_loss(net, model, x, labels, cond, unconditional, stage):
    return bits(net(x, labels, cond, None, unconditional), x)


def twostage_loss(net, model, x, labels, cond, unconditional, stage):
    if stage == "sketch":  # the sketch stage alone: bits per sketch sub-pixel
        sketch = model.sketch_of(x)
        return bits(model.sketch(sketch, labels, cond, None, unconditional), sketch)
    return model.bits(x, net(x, labels, cond, None, unconditional)).mean()


def autoencoder_loss(net, model, x, labels, cond, unconditional, stage):
    return bits(net(x, unconditional), x)


def mse_loss(net, model, x, labels, cond, unconditional, stage):
    return F.mse_loss(net(x).float(), model.unit(x))


def bits(logits, x):
    """(B, levels, C, H, W) logits of (B, C, H, W) ints -> mean bits per sub-pixel, in fp32."""
    return F.cross_entropy(logits.float(), x) / math.log(2)


LOSSES = {"GatedPixelCNN": pixelcnn_loss, "PixelCNN": pixelcnn_loss, "TwoStagePixelCNN": twostage_loss,
          "PixelCNNAutoEncoder": autoencoder_loss, "MSEAutoEncoder": mse_loss}


def batch_loss(net, model, x, labels=None, cond=None, unconditional=None, precision: torch.dtype | None = None, stage: str = "both"
               ) -> torch.Tensor:
    """One batch's training loss in fp32, from a forward pass under autocast(precision): bits/dim
    for the PixelCNNs (with stage "sketch", a two-stage model's sketch stage alone), MSE for the
    MSE auto-encoder. x: (B, C, H, W) ints."""
    with torch.autocast(x.device.type, dtype=precision or torch.float32, enabled=precision is not None):
        return LOSSES[type(model).__name__](net, model, x, labels, cond, unconditional, stage)
