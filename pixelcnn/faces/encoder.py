"""Face identity embeddings: MTCNN finds and aligns a face, InceptionResnetV1 embeds it (512-d,
unit length)."""

import hashlib

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file

from pixelcnn.data import cache_dir
from pixelcnn.faces.weights import EMBEDDING, fetch_weights
from pixelcnn.pictures.reading import open_picture

MIN_FACE_SIDE = 40


def load_photo(image) -> Image.Image:
    """A path or PIL image in any mode (RGBA, grey, palette, CMYK, 16-bit), EXIF-rotated -> RGB."""
    return open_picture(image, kind="photo").convert("RGB")


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
    from pixelcnn.data import load_dataset

    d = load_dataset("orl-faces")
    images, labels = np.concatenate([d.train_x, d.test_x])[:, 0], np.concatenate([d.train_y, d.test_y])
    crops = torch.stack([encoder.crop(Image.fromarray(img)) for img in images])
    return torch.cat([encoder.embed_crops(chunk) for chunk in crops.split(50)]), torch.as_tensor(labels)
