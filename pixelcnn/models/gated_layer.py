"""One gated layer of the two-stack PixelCNN (van den Oord et al. 2016, figure 2).

    vertical:   v_pre = Vconv(v) + V_v h            v_out = tanh(v_f) * sigmoid(v_g)
    horizontal: h_pre = Hconv(h) + 1x1(down(v_pre)) + V_h h
                gated = tanh(h_f) * sigmoid(h_g)
                h_out = h + 1x1(gated)   (no residual in the first layer: its input is the image;
                                   none in the last: only its skip is used)
                skip  = 1x1(gated)

The vertical-to-horizontal link enters before the gate, and the horizontal stack never feeds
the vertical one. `GatedLayerStep` runs the same layer one pixel at a time, for the cached sampler.
"""

import weakref
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn

from pixelcnn.models.convs import HorizontalConv, MaskedConv1x1, VerticalConv, channel_groups, down_shift, gate_groups


def gate(pre: torch.Tensor) -> torch.Tensor:
    """(B, 2h, ...) pre-activations -> (B, h, ...) tanh(first half) * sigmoid(second half)."""
    f, g = pre.chunk(2, dim=1)
    return torch.tanh(f) * torch.sigmoid(g)


class GatedLayer(nn.Module):
    def __init__(self, hidden, colours, kernel_size, cond_features, cond_map_channels, first, last=False):
        super().__init__()
        in_channels = colours if first else hidden
        in_groups = channel_groups(in_channels, colours)
        hidden_groups = channel_groups(hidden, colours)
        self.first, self.colours = first, colours
        self.vertical = VerticalConv(in_channels, 2 * hidden, kernel_size)
        self.horizontal = HorizontalConv(
            in_channels, 2 * hidden, kernel_size, in_groups, gate_groups(hidden, colours), include_self=not first
        )
        # The link carries complete rows above: no colour mask.
        self.link = nn.Conv2d(2 * hidden, 2 * hidden, 1)
        # The last layer's horizontal output feeds nothing but its skip: no residual 1x1 there.
        self.residual = None if last else MaskedConv1x1(hidden, hidden, hidden_groups, hidden_groups)
        self.skip = MaskedConv1x1(hidden, hidden, hidden_groups, hidden_groups)
        # One projection gives both stacks' conditioning: (B, 4h) = [vertical 2h | horizontal 2h].
        self.cond = nn.Linear(cond_features, 4 * hidden) if cond_features else None
        self.cond_map = nn.Conv2d(cond_map_channels, 4 * hidden, 1) if cond_map_channels else None

    def conditioning(self, cond_vec, cond_map):
        """Per-layer bias for both stacks: (B, 4h, 1, 1) or (B, 4h, H, W), or 0."""
        bias = 0
        if self.cond is not None:
            bias = self.cond(cond_vec)[:, :, None, None]
        if self.cond_map is not None:
            bias = bias + self.cond_map(cond_map)
        return bias

    def forward(self, v, h, cond_vec=None, cond_map=None):
        """v, h: (B, in, H, W) -> v_out, h_out, skip: (B, hidden, H, W)."""
        bias = self.conditioning(cond_vec, cond_map)
        bias_v, bias_h = (bias.chunk(2, dim=1) if torch.is_tensor(bias) else (0, 0))
        v_pre = self.vertical(v) + bias_v  # (B, 2h, H, W)
        h_pre = self.horizontal(h) + self.link(down_shift(v_pre)) + bias_h
        gated = gate(h_pre)  # (B, h, H, W)
        if self.residual is None:
            h_out = h
        else:
            h_out = self.residual(gated) if self.first else h + self.residual(gated)
        return gate(v_pre), h_out, self.skip(gated)

    def step_weights(self, bounds: list[tuple[int, int]]) -> SimpleNamespace:
        """The one-pixel step's matrices (`derive_step_weights`), derived once, and again only after the
        parameters change (in place, as training does, or by `.to()`): each cohort starts at once."""
        key = (tuple(bounds), tuple((p.data_ptr(), p.dtype, p._version) for p in self.parameters()))
        cached = STEP_WEIGHTS.get(self)
        if cached is None or cached[0] != key:
            STEP_WEIGHTS[self] = cached = (key, derive_step_weights(self, bounds))
        return cached[1]

    def stepper(self, cond_vec, cond_map, n: int, w: int, dtype: torch.dtype) -> "GatedLayerStep":
        """This layer, ready to run one pixel at a time over n images w pixels wide; cond_map
        channels last, (n, H, W, M), so that a row of it is one contiguous (n*W, M) matrix (one
        copy shared by every layer)."""
        bounds = group_bounds(self.skip.weight.shape[0], self.colours)
        return GatedLayerStep(self, cond_vec, cond_map, n, w, bounds, dtype)


# Each layer's step matrices, beside the layer rather than in it: a copy of the model, or one sent
# to the engine's process, carries only its parameters (one shared block), not these.
STEP_WEIGHTS: "weakref.WeakKeyDictionary[GatedLayer, tuple]" = weakref.WeakKeyDictionary()


def group_bounds(channels: int, colours: int) -> list[tuple[int, int]]:
    """[lo, hi) channel range of each colour group (groups are contiguous blocks)."""
    groups = channel_groups(channels, colours).tolist()
    return [(groups.index(c), len(groups) - groups[::-1].index(c)) for c in range(colours)]


def with_bias(conv, lo, hi):
    """A masked 1x1's rows for input channels [0, hi) and outputs [lo, hi), its bias on top."""
    weight = conv.masked_weight().t()  # (in, out); rows of later groups are masked to 0
    return torch.cat([conv.bias[None, lo:hi], weight[:hi, lo:hi]]).contiguous()


@torch.no_grad()
def derive_step_weights(layer: "GatedLayer", bounds: list[tuple[int, int]]) -> SimpleNamespace:
    """The matrices `GatedLayerStep` runs, derived from the layer's parameters."""
    hidden = layer.skip.weight.shape[0]
    weight = layer.vertical.conv.weight  # (2h, in, taps, kernel)
    taps, kernel, device = weight.shape[2], weight.shape[3], weight.device
    groups = [(2 * lo, 2 * hi) for lo, hi in bounds]
    w = SimpleNamespace()
    grouped = torch.cat([torch.cat([torch.arange(lo, hi), torch.arange(hidden + lo, hidden + hi)]) for lo, hi in bounds]).to(device)
    # Output row r reads input rows r-pad .. r, kept in ring slot (row % taps): one matrix per
    # phase (r - pad) % taps and horizontal tap, (taps*in, 2h) over the slots.
    w.vertical = [[torch.cat([weight[:, :, (slot - phase) % taps, t].t() for slot in range(taps)]).contiguous()
                   for t in range(kernel)] for phase in range(taps)]
    # (taps*in, 2h): a window of the row buffer, flattened tap-major, times this.
    horizontal = layer.horizontal.masked_weight()[:, :, 0, :].permute(2, 1, 0).reshape(-1, 2 * hidden)[:, grouped]
    w.horizontal = [horizontal[:, a:b].contiguous() for a, b in groups]
    w.link_weight = layer.link.weight[:, :, 0, 0].t()[:, grouped].contiguous()
    # Both stacks' constant biases, added with the conditioning once a row: (4h) = [vertical conv | link + horizontal conv, grouped].
    constant = torch.cat([layer.vertical.conv.bias, (layer.link.bias + layer.horizontal.bias)[grouped]])
    # The gated buffer holds a constant 1 before each layer's channels, so a weight matrix with
    # the bias as its first row does product and bias in one call: (1 + hi, group).
    w.residual = [with_bias(layer.residual, lo, hi) for lo, hi in bounds] if layer.residual is not None else None
    w.skip = [with_bias(layer.skip, lo, hi) for lo, hi in bounds]
    # The conditioning, made one image row at a time (a spatial map's for a whole batch would
    # be (n, 4h, H, W) a layer), its horizontal half grouped: the latest rows' (vertical,
    # horizontal) biases, (n, W or 1, 2h) each.
    order = torch.cat([torch.arange(2 * hidden, device=device), 2 * hidden + grouped])
    w.cond = None if layer.cond is None else (layer.cond.weight[order], layer.cond.bias[order] + constant)
    map_bias = constant if layer.cond is None else 0  # the constant once: with the vector's, or else here
    w.map = None if layer.cond_map is None else (layer.cond_map.weight[order, :, 0, 0].t(), layer.cond_map.bias[order] + map_bias)
    w.constant = constant
    return w


class GatedLayerStep:
    """One gated layer run one pixel at a time, as the cached sampler draws: its weights as
    per-colour-group matrices, and its small caches.

    At colour step c only group c's features can have changed (group g sees the current pixel's
    colours before g), so each step computes that group alone from the cached earlier groups.
    Every horizontal pre-activation (2h columns) is kept grouped by colour, group c's tanh half
    then its sigmoid half at [2lo, 2hi), so that a group's columns are one contiguous slice.

    Once a row is finished the vertical stack runs over it as `kernel` matrix products over a
    ring of the last `taps` input rows (no im2col copy): all images' padded rows laid end to end
    make every horizontal tap one shifted, contiguous view.
    """

    def __init__(self, layer: "GatedLayer", cond_vec, cond_map, n: int, w: int, bounds: list[tuple[int, int]], dtype: torch.dtype):
        hidden = layer.skip.weight.shape[0]
        in_channels = layer.horizontal.weight.shape[1]
        weight = layer.vertical.conv.weight  # (2h, in, taps, kernel)
        self.taps, self.kernel = weight.shape[2], weight.shape[3]
        self.pad, device = self.taps - 1, weight.device
        self.first, self.n, self.w, self.hidden = layer.first, n, w, hidden
        self.bounds = bounds  # [lo, hi) hidden channels of each colour group
        self.groups = [(2 * lo, 2 * hi) for lo, hi in bounds]  # its grouped pre-activation columns
        weights = layer.step_weights(bounds)  # shared by every cohort of this model: never written to
        self.vertical, self.horizontal, self.link_weight, self.constant = weights.vertical, weights.horizontal, weights.link_weight, weights.constant
        self.residual, self.skip, self.cond, self.map = weights.residual, weights.skip, weights.cond, weights.map
        self.cond_vec, self.cond_map = cond_vec, cond_map  # (n, F), (n, H, W, M) channels last, or None
        self.row_conditioning: dict[int, torch.Tensor] = {}  # row -> (n, W or 1, 4h)
        self.map_rows: list[torch.Tensor] = []  # two (n, W, 4h) buffers the map's rows are made in, by row parity
        # The last `taps` rows of the vertical stack's input, zero-padded left and right.
        self.column = torch.zeros((n, w + 2 * self.pad, self.taps, in_channels), device=device, dtype=dtype)
        # Vertical pre-activations of the latest row and, from them, the next row's horizontal
        # bias (link + conditioning + conv bias), both at every padded position (those from
        # W on are never read). Filled in place each row, so views taken of them once stay valid.
        self.pre = torch.zeros((n * (w + 2 * self.pad), 2 * hidden), device=device, dtype=dtype)
        self.row_bias = torch.zeros_like(self.pre)
        # Each colour group's horizontal pre-activations at the current pixel, (n, 2*group).
        self.pre_group = [torch.zeros((n, b - a), device=device, dtype=dtype) for a, b in self.groups]
        # Inputs of the horizontal conv for the current row, zero-padded on the left.
        self.row = torch.zeros((n, w + self.pad, in_channels), device=device, dtype=dtype)

    def padded(self, buffer: torch.Tensor) -> torch.Tensor:
        """A (n * padded width, 2h) buffer as (n, padded width, 2h)."""
        return buffer.view(self.n, -1, buffer.shape[1])

    def start(self) -> None:
        """Set up row 0's horizontal bias (nothing above it)."""
        self.padded(self.row_bias)[:, : self.w] = self.biases_at(0)[1]

    def keep(self, rows: torch.Tensor, cond_vec, cond_map) -> None:
        """Go on with only these images (indices into the batch, in order), whose conditioning is
        now cond_vec and cond_map (the batch's, indexed once for every layer)."""
        self.column, self.row = self.column[rows], self.row[rows]
        self.pre_group = [pre[rows] for pre in self.pre_group]
        self.pre, self.row_bias = (self.padded(t)[rows].reshape(-1, t.shape[1]) for t in (self.pre, self.row_bias))
        self.n = len(rows)
        self.cond_vec, self.cond_map = cond_vec, cond_map
        if self.cond is not None or self.map is not None:  # else the biases are the same for every image
            self.row_conditioning = {row: bias[rows] for row, bias in self.row_conditioning.items()}
        self.map_rows = []

    def biases_at(self, row: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The layer's biases at image row `row`, conditioning and constant -> (vertical, horizontal
        grouped), (n or 1, W or 1, 2h) each."""
        key = row if self.cond_map is not None else 0  # a vector's conditioning is the same on every row
        if key not in self.row_conditioning:
            bias = self.constant[None, None] if self.cond is None else F.linear(self.cond_vec, *self.cond)[:, None]  # (n or 1, 1, 4h)
            if self.map is not None:
                if not self.map_rows:
                    self.map_rows = [self.pre.new_empty((self.n, self.w, self.map[1].shape[0])) for _ in range(2)]
                at_row = self.cond_map[:, row].reshape(self.n * self.w, -1)  # (n*W, M)
                made = self.map_rows[row % 2]
                torch.addmm(self.map[1], at_row, self.map[0], out=made.view(self.n * self.w, -1))
                bias = made if self.cond is None else made.add_(bias)  # in place: a new (n, W, 4h) every row costs page faults
            self.row_conditioning = {k: v for k, v in self.row_conditioning.items() if k == key - 1}
            self.row_conditioning[key] = bias
        return self.row_conditioning[key].chunk(2, dim=2)

    def views(self, col: int, channel: int, gated: torch.Tensor, index: int, next_step: "GatedLayerStep | None") -> tuple:
        """The persistent buffers `step` reads and writes for sub-pixel (col, channel), as views
        taken once: gated (n, layers, 1 + hidden) holds every layer's gated output at this pixel
        after a constant 1; next_step is the layer above (None for the last layer)."""
        lo, hi = self.bounds[channel]
        a, b = self.groups[channel]
        half = (b - a) // 2
        pre = self.pre_group[channel]
        return (
            self.row[:, col : col + self.pad + 1].reshape(self.n, -1),  # (n, taps*in) window
            self.padded(self.row_bias)[:, col, a:b],
            self.horizontal[channel],
            pre, pre[:, :half], pre[:, half:],
            gated[:, index, 1 + lo : 1 + hi],
            gated[:, index, : 1 + hi],
            self.residual[channel] if next_step is not None else None,
            None if self.first else self.row[:, self.pad + col, lo:hi],  # residual input
            next_step.row[:, next_step.pad + col, lo:hi] if next_step is not None else None,  # the next layer's input
        )

    @staticmethod
    def step(window, bias, horizontal, pre, tanh_half, sigmoid_half, gated_out, gated_in, residual, residual_in, layer_out) -> None:
        """One colour group of one pixel through the layer (the buffers from `views`): the
        horizontal pre-activation, the gate, and the residual output into the next layer's row."""
        torch.addmm(bias, window, horizontal, out=pre)  # (n, 2*group)
        torch.mul(tanh_half.tanh_(), sigmoid_half.sigmoid_(), out=gated_out)
        if layer_out is not None:
            if residual_in is None:  # the first layer has no residual: its input is the image
                torch.mm(gated_in, residual, out=layer_out)
            else:
                torch.addmm(residual_in, gated_in, residual, out=layer_out)

    def input_row(self, row: int) -> torch.Tensor:
        """Where image row `row` of this layer's input goes, (n, W, in): its slot in the ring."""
        return self.column[:, self.pad : self.pad + self.w, row % self.taps]

    def next_row(self, row: int, next_step: "GatedLayerStep | None") -> None:
        """The vertical stack over the finished `row` of this layer's input (already in
        `input_row(row)`): the next row's horizontal state set up, and the vertical output written
        into the layer above's input (none from the last layer: nothing reads it)."""
        inputs = self.column.view(-1, self.column.shape[2] * self.column.shape[3])  # every image's padded row, end to end
        valid = len(inputs) - (self.kernel - 1)  # positions whose window does not run off the end
        weights = self.vertical[(row - self.pad) % self.taps]
        out = self.pre[:valid]
        torch.mm(inputs[:valid], weights[0], out=out)
        for tap in range(1, self.kernel):
            out.addmm_(inputs[tap : tap + valid], weights[tap])
        v_pre = self.padded(self.pre)[:, : self.w]  # (n, W, 2h)
        v_pre += self.biases_at(row)[0]  # the biases once a row, not copied into each product's output
        torch.mm(self.pre, self.link_weight, out=self.row_bias)  # the next row's, from this row's v_pre
        self.padded(self.row_bias)[:, : self.w] += self.biases_at(row + 1)[1]
        self.row.zero_()
        if next_step is not None:
            torch.mul(v_pre[:, :, : self.hidden].tanh_(), v_pre[:, :, self.hidden :].sigmoid_(), out=next_step.input_row(row))  # the gate
