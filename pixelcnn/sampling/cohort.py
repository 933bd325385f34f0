"""Drawing requests sampled together: each request is checked into an `Order` (its images'
conditioning and its `Part`: seed, temperature, guidance, given pixels), and a `Cohort` draws any
number of orders for one model in one sampler batch. An order's images do not depend on which
others share its cohort; an order can leave a running cohort between two pixels."""

from dataclasses import dataclass

import torch

from pixelcnn.sampling.cached import Cached
from pixelcnn.sampling.drawer import Drawer, Part, check_args
from pixelcnn.sampling.naive import naive


def seed_or_new(seed: int | None) -> int:
    """The seed asked for, or a new random one (a drawing always has a seed, so it can be redrawn)."""
    return seed if seed is not None else int(torch.randint(2**62, ()).item())


def checked_sketch(model, n: int, sketch) -> torch.Tensor:
    """A two-stage model's given sketch, checked: (n, C, h, w) ints in [0, sketch levels), or a ValueError."""
    sketch = torch.as_tensor(sketch)
    expected = (n, model.image_channels, *model.sketch.image_size)
    if tuple(sketch.shape) != expected or sketch.is_floating_point() or sketch.min() < 0 or sketch.max() >= model.sketch.levels:
        raise ValueError(f"sketch must be {expected} integers in [0, {model.sketch.levels}).")
    return sketch


@dataclass(eq=False)
class Order:
    """One checked request for `part.n` images of `size` from one model, with each image's
    conditioning (labels (n,), cond (n, D), cond_map (n, M, H, W), or None), and whether it draws
    from the unconditional branch."""

    model: object
    size: tuple[int, int]
    labels: torch.Tensor | None
    cond: torch.Tensor | None
    cond_map: torch.Tensor | None
    no_condition: bool
    part: Part

    @property
    def rows(self) -> int:
        """Batch rows it takes: one an image, two with guidance (both branches)."""
        return self.part.n * (2 if self.part.guidance else 1)


def order(model, n: int, *, labels=None, cond=None, cond_map=None, size=None, temperature: float = 1.0, seed: int | None = None,
          method: str = "cached", known=None, known_mask=None, on_logits=None, guidance: float = 0.0, no_condition: bool = False,
          count_bits: bool = False) -> Order:
    """Check a request's arguments (as `sample_stream` takes them) -> its Order, or a ValueError.
    count_bits: add up, as it draws, the nats each image's drawn values cost under the model (`Part.nats`)."""
    h, w = check_args(model, n, size, temperature, method, guidance)
    shape = (n, model.image_channels, h, w)
    device = next(model.parameters()).device
    if no_condition:
        if not model.guidable:
            raise ValueError("this model has no unconditional branch (it was not trained with --cond-dropout): pick a class or person.")
        if guidance:
            raise ValueError("with no condition there is nothing to guide towards: use guidance=0.")
        labels = torch.zeros(n, dtype=torch.long) if model.num_classes and labels is None else labels
        cond = torch.zeros(n, model.cond_dim) if model.cond_dim and cond is None else cond
    if known is not None or known_mask is not None:
        if known is None or known_mask is None or tuple(known.shape) != shape or known.shape != known_mask.shape:
            raise ValueError(f"known and known_mask must both have shape {shape}.")
        if known.is_floating_point() or known.min() < 0 or known.max() >= model.levels:
            raise ValueError(f"known must hold integer intensities in [0, {model.levels}).")
        known, known_mask = known.to(device).long(), known_mask.to(device).bool()
    if isinstance(labels, int):
        labels = torch.full((n,), labels, dtype=torch.long)
    labels, cond, cond_map = (None if t is None else torch.as_tensor(t, device=device) for t in (labels, cond, cond_map))
    model.conditioning_vector(n, labels, cond)  # validates before anything is drawn
    model.check_cond_map(torch.empty(shape), cond_map)
    part = Part(n, seed_or_new(seed), temperature, guidance, known, known_mask, on_logits, count_bits=count_bits)
    return Order(model, (h, w), labels, cond, cond_map, no_condition, part)


class Cohort:
    """Orders for one model drawn in one batch: `pixels()` draws them pixel by pixel (yielding
    each finished pixel's index), `keep(orders)` lets the others leave between two pixels."""

    def __init__(self, model, orders: list[Order], method: str = "cached", weights=None):
        """weights: the module that draws, if not `model` itself (a copy of it in another precision)."""
        if len({o.size for o in orders}) != 1 or any(o.model is not model for o in orders):
            raise ValueError("a cohort draws images of one size from one model.")
        self.source, self.orders, self.size = model, list(orders), orders[0].size
        self.model = model = weights if weights is not None else model
        self.device = next(model.parameters()).device
        self.drawer = Drawer([o.part for o in orders], (model.image_channels, *self.size), model.levels, self.device)
        self.cached = method == "cached" and model.CACHED

    def conditioning(self):
        """Each batch row's (labels, cond, cond_map, unconditional), in the drawer's row order."""
        rows = self.drawer.row_images

        def per_row(name):
            tensors = [getattr(o, name) for o in self.orders]
            return None if tensors[0] is None else torch.cat(tensors)[rows]

        no_condition = torch.cat([torch.full((o.part.n,), o.no_condition) for o in self.orders]).to(self.device)
        unconditional = self.drawer.row_unconditional | no_condition[rows]
        return per_row("labels"), per_row("cond"), per_row("cond_map"), unconditional if unconditional.any() else None

    def pixels(self):
        """Draw every order's images; yields the index of each finished pixel (raster order)."""
        labels, cond, cond_map, unconditional = self.conditioning()
        if not self.cached:
            yield from naive(self.model, self.drawer, labels, cond, cond_map, unconditional)
            return
        rows = len(self.drawer.row_images)
        cond_vec = self.model.conditioning_vector(rows, labels, cond, unconditional)
        cond_map = None if cond_map is None else cond_map.to(self.model.head_out.weight.dtype)
        self.sampler = Cached(self.model, rows, self.size, cond_vec, cond_map)
        yield from self.sampler.pixels(self.drawer)

    def keep(self, orders: list[Order]) -> None:
        """Go on drawing only `orders` (the others leave the batch; their images stop where they are).
        The naive sampler keeps its batch whole."""
        if not self.cached or not orders:
            return
        rows = self.drawer.keep([o.part for o in orders])
        self.orders = [o for o in self.orders if any(o is kept for kept in orders)]
        if hasattr(self, "sampler"):  # not yet, before the first pixel: pixels() starts from the orders kept
            self.sampler.keep(rows.to(self.device))
