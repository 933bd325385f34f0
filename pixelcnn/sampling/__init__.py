"""Samplers: the drawer every sampler shares, the naive reference, the cached sampler of the
two-stack model, cohorts of requests drawn in one batch, the plan of a staged drawing, and the
streams that drive them."""

from pixelcnn.sampling.cohort import Cohort, Order, order
from pixelcnn.sampling.drawer import Drawer, Part, check_args
from pixelcnn.sampling.stages import Plan, Stage
from pixelcnn.sampling.streams import sample, sample_stages, sample_stream, stages

__all__ = ["Cohort", "Drawer", "Order", "Part", "Plan", "Stage", "check_args", "order", "sample", "sample_stages", "sample_stream", "stages"]
