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

    def stepper(self, cond_vec, cond_map, n: int, w: int, dtype: torch.dtype) -> "GatedLayerStep":
        """This layer, ready to run one pixel at a time over n images w pixels wide."""
        bounds = group_bounds(self.skip.weight.shape[0], self.colours)
        return GatedLayerStep(self, cond_vec, cond_map, n, w, bounds, dtype)


def group_bounds(channels: int, colours: int) -> list[tuple[int, int]]:
    """[lo, hi) channel range of each colour group (groups are contiguous blocks)."""
    groups = channel_groups(channels, colours).tolist()
    return [(groups.index(c), len(groups) - groups[::-1].index(c)) for c in range(colours)]


def with_bias(conv, lo, hi):
    """A masked 1x1's rows for input channels [0, hi) and outputs [lo, hi), its bias on top."""
    weight = conv.masked_weight().t()  # (in, out); rows of later groups are masked to 0
    return torch.cat([conv.bias[None, lo:hi], weight[:hi, lo:hi]]).contiguous()


class GatedLayerStep:
    """One gated layer run one pixel at a time, as the cached sampler draws: its weights as
    per-colour-group matrices, and its small caches.

    At colour step c only group c's features can have changed (group g sees the current pixel's
    colours before g), so each step computes that group alone from the cached earlier groups.
    """

    def __init__(self, layer: "GatedLayer", cond_vec, cond_map, n: int, w: int, bounds: list[tuple[int, int]], dtype: torch.dtype):
        hidden = layer.skip.weight.shape[0]
        in_channels = layer.horizontal.weight.shape[1]
        self.first = layer.first
        pad, device = layer.horizontal.weight.shape[3] - 1, layer.skip.weight.device
        self.n, self.w = n, w
        self.bounds = bounds  # [lo, hi) hidden channels of each colour group
        # Gate columns of each group, f then g: [f_lo:f_hi, h+lo:h+hi].
        self.gate_cols = [torch.cat([torch.arange(lo, hi), torch.arange(hidden + lo, hidden + hi)]).to(device) for lo, hi in self.bounds]
        # The vertical conv as one product over im2col windows ordered (row, tap, channel).
        self.vertical = layer.vertical.conv.weight.permute(2, 3, 1, 0).reshape(-1, 2 * hidden)
        self.vertical_bias = layer.vertical.conv.bias
        self.kernel = layer.vertical.conv.weight.shape[3]
        # (taps*in, 2h): a window of the row buffer, flattened tap-major, times this.
        horizontal = layer.horizontal.masked_weight()[:, :, 0, :].permute(2, 1, 0).reshape(-1, 2 * hidden)
        self.horizontal = [horizontal[:, cols].contiguous() for cols in self.gate_cols]
        self.link_weight = layer.link.weight[:, :, 0, 0]
        self.link_bias = layer.link.bias + layer.horizontal.bias
        # The gated buffer holds a constant 1 before each layer's channels, so a weight matrix with
        # the bias as its first row does product and bias in one call: (1 + hi, group).
        self.residual = [with_bias(layer.residual, lo, hi) for lo, hi in self.bounds] if layer.residual is not None else None
        self.skip = [with_bias(layer.skip, lo, hi) for lo, hi in self.bounds]
        # The conditioning, made one image row at a time (a spatial map's for a whole batch would
        # be (n, 4h, H, W) a layer): the latest rows' (vertical, horizontal) biases, (n, W or 1, 2h) each.
        self.layer, self.cond_vec, self.cond_map = layer, cond_vec, cond_map
        self.conditioned = layer.cond is not None or layer.cond_map is not None
        self.row_conditioning: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        # Inputs of the vertical conv for the last pad+1 rows, zero-padded left and right.
        self.vertical_rows = torch.zeros((n, pad + 1, w + 2 * pad, in_channels), device=device, dtype=dtype)
        # Inputs of the horizontal conv for the current row, zero-padded on the left.
        self.row = torch.zeros((n, w + pad, in_channels), device=device, dtype=dtype)
        # Per group (n, W, 2*group): link from the row above + conditioning + conv bias. Filled in
        # place each row, so views taken of it once stay valid.
        self.row_bias = [torch.zeros((n, w, len(cols)), device=device, dtype=dtype) for cols in self.gate_cols]

    def set_row_bias(self, v_pre_above, row):
        """v_pre_above: (n, W, 2h) vertical pre-activations of the row above, or None for row 0."""
        if v_pre_above is None:
            bias = self.link_bias.expand(self.n, self.w, -1)
        else:
            bias = torch.addmm(self.link_bias, v_pre_above.reshape(self.n * self.w, -1), self.link_weight.t()).view(self.n, self.w, -1)
        if self.conditioned:
            bias = bias + self.conditioning_at(row)[1]
        for target, cols in zip(self.row_bias, self.gate_cols):
            target.copy_(bias[:, :, cols])

    def keep(self, rows: torch.Tensor) -> None:
        """Go on with only these images (indices into the batch, in order)."""
        self.n = len(rows)
        self.vertical_rows, self.row = self.vertical_rows[rows], self.row[rows]
        self.row_bias = [bias[rows] for bias in self.row_bias]
        self.cond_vec, self.cond_map = (None if t is None else t[rows] for t in (self.cond_vec, self.cond_map))
        self.row_conditioning = {row: (v[rows], h[rows]) for row, (v, h) in self.row_conditioning.items()}

    def conditioning_at(self, row: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The layer's conditioning at image row `row` -> (vertical, horizontal) biases, (n, W or 1, 2h) each."""
        key = row if self.cond_map is not None else 0  # a vector's conditioning is the same on every row
        if key not in self.row_conditioning:
            cond_map = None if self.cond_map is None else self.cond_map[:, :, row : row + 1]
            bias = self.layer.conditioning(self.cond_vec, cond_map)  # (n, 4h, 1, W or 1)
            bias = bias.expand(self.n, -1, -1, -1)[:, :, 0].transpose(1, 2)  # (n, W or 1, 4h)
            self.row_conditioning = {k: v for k, v in self.row_conditioning.items() if k >= key - 1}
            self.row_conditioning[key] = bias.chunk(2, dim=2)
        return self.row_conditioning[key]

    def advance(self, new_row):
        """Feed the vertical stack one finished row of its input, new_row (n, W, in), and return
        that row's pre-activations (n, W, 2h)."""
        rows = self.vertical_rows
        pad = rows.shape[1] - 1
        rows[:, :-1] = rows[:, 1:].clone()
        rows[:, -1, pad : pad + self.w] = new_row
        windows = rows.unfold(2, self.kernel, 1).permute(0, 2, 1, 4, 3)  # (n, W, pad+1, kernel, in)
        return torch.addmm(self.vertical_bias, windows.reshape(self.n * self.w, -1), self.vertical).view(self.n, self.w, -1)


    def views(self, col: int, channel: int, gated: torch.Tensor, index: int, next_step: "GatedLayerStep | None") -> tuple:
        """The persistent buffers `step` reads and writes for sub-pixel (col, channel), as views
        taken once: gated (n, layers, 1 + hidden) holds every layer's gated output at this pixel
        after a constant 1; next_step is the layer above (None for the last layer)."""
        lo, hi = self.bounds[channel]
        pad = self.row.shape[1] - self.w
        return (
            self.row[:, col : col + pad + 1].reshape(self.n, -1),  # (n, (pad+1)*in) window
            self.row_bias[channel][:, col],
            self.horizontal[channel],
            gated[:, index, 1 + lo : 1 + hi],
            gated[:, index, : 1 + hi],
            self.residual[channel] if next_step is not None else None,
            None if self.first else self.row[:, pad + col, lo:hi],  # residual input
            next_step.row[:, pad + col, lo:hi] if next_step is not None else None,  # the next layer's input
        )

    @staticmethod
    def step(window, bias, horizontal, gated_out, gated_in, residual, residual_in, layer_out) -> None:
        """One colour group of one pixel through the layer (the buffers from `views`): the
        horizontal pre-activation, the gate, and the residual output into the next layer's row."""
        pre = torch.addmm(bias, window, horizontal)  # (n, 2*group)
        pre[:, : pre.shape[1] // 2].tanh_()
        gated_out.copy_(F.glu(pre, -1))  # tanh(f) * sigmoid(g)
        if layer_out is not None:
            if residual_in is None:  # the first layer has no residual: its input is the image
                torch.mm(gated_in, residual, out=layer_out)
            else:
                torch.addmm(residual_in, gated_in, residual, out=layer_out)

    def next_row(self, new_input: torch.Tensor, row: int) -> torch.Tensor:
        """The vertical stack over the finished `row` of this layer's input (n, W, in): the next
        row's horizontal state set up -> the vertical output (n, W, h), the next layer's input."""
        v_pre = self.advance(new_input)  # (n, W, 2h)
        if self.conditioned:
            v_pre = v_pre + self.conditioning_at(row)[0]
        self.set_row_bias(v_pre, row + 1)
        self.row.zero_()
        return gate(v_pre.transpose(1, 2)).transpose(1, 2)
