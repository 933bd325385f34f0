"""What a run trains on: a named dataset or a folder of class subfolders, with each photo's face
embedding when the model is conditioned on faces, at the size asked for.

Training, evaluation and the identity check all load their data here, so they see the same
images and the same embeddings.
"""

from pixelcnn import data as datasets

FACE_READ_SIDE = 160  # a folder of portraits is read at this size for the face encoder


def load_data(dataset: str, folder: str = "", image_size: int = 0, channels: int = 1, conditioning: str = "class") -> datasets.ImageDataset:
    """dataset: a name of `data.WAYS` or "folder" (then `folder`: one subfolder of images per
    class); image_size: a square side to resize to (0 keeps the data's own); conditioning:
    "face" adds each image's face embedding as `train_cond` / `test_cond` (N, 512)."""
    if dataset == "folder":
        if not folder:
            raise SystemExit("--dataset folder needs --folder PATH (one subfolder of images per class).")
        size = image_size or 28
        if conditioning != "face":
            return datasets.load_folder(folder, (size, size), channels)
        # Portraits, one subfolder per person: read large enough for the face detector, embed, shrink.
        d = datasets.load_folder(folder, (FACE_READ_SIDE, FACE_READ_SIDE), channels)
    else:
        d = datasets.load_dataset(dataset)
    if conditioning == "face":
        from pixelcnn.faces import with_embeddings  # computed on the full-size photos, before any resize

        d = with_embeddings(d)
    if image_size and image_size != d.image_shape[-1]:
        d = datasets.resize_dataset(d, image_size)
    return d
