"""Samplers: the drawer every sampler shares, the naive reference, the cached sampler of the
two-stack model, and the streams that drive them."""

from pixelcnn.sampling.drawer import Drawer, check_args
from pixelcnn.sampling.streams import sample, sample_stages, sample_stream, stages

__all__ = ["Drawer", "check_args", "sample", "sample_stages", "sample_stream", "stages"]
