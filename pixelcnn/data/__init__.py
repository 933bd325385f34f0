"""Named image datasets (each with an internet way and a package-registry way, cached as .npz)
and a user's own folder of pictures."""

from pixelcnn.data.dataset import (FASHION_CLASSES, MNIST_CLASSES, DataUnavailable, ImageDataset, cache_dir, dequantize, first_that_works,
                                   quantize, resize_dataset, square_resize)
from pixelcnn.data.formats import load_folder
from pixelcnn.data.sources import WAYS, cached_path, load_dataset

__all__ = ["FASHION_CLASSES", "MNIST_CLASSES", "WAYS", "DataUnavailable", "ImageDataset", "cache_dir", "cached_path", "dequantize",
           "first_that_works", "load_dataset", "load_folder", "quantize", "resize_dataset", "square_resize"]
