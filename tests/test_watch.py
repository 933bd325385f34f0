"""Watching a drawing: the pace spreads the frames without changing the drawing, and the chart
shows the distribution each marked sub-pixel was really drawn from."""

import time

import numpy as np
import pytest
import torch

from pixelcnn.models import GatedPixelCNN
from pixelcnn.sampling import sample
from pixelcnn.studio import frames, palette
from pixelcnn.studio.tabs import by_class as by_class_tab
from pixelcnn.studio.watch import (DEFAULT_PACE, PACES, WIDTH, Beliefs, belief_chart, chart_for, choice_words, entropy_bits, last_hesitation,
                                   parse_pace, pixel_chart, placeholder_chart, shade, shown_at)

FAST = "As fast as possible"


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GatedPixelCNN(image_size=[8, 8], levels=16, hidden_channels=8, num_layers=2, kernel_size=3, num_classes=2, cond_dropout=0.1).eval()


def test_the_watchable_pace_is_the_default_and_unknown_paces_are_refused():
    assert DEFAULT_PACE.startswith("Watchable") and PACES[DEFAULT_PACE] >= 5 and PACES[FAST] == 0
    with pytest.raises(ValueError, match="Pace must be one of: Watchable"):
        parse_pace("slow motion")


def test_shown_never_runs_ahead_of_the_sampler():
    assert shown_at(3.0, 6.0, done=784, total=784) == 392  # half the time: half the drawing
    assert shown_at(3.0, 6.0, done=100, total=784) == 100  # the sampler is behind: show what it has
    assert shown_at(9.0, 6.0, done=784, total=784) == 784
    assert shown_at(0.1, 0.0, done=50, total=784) == 50  # no pace: everything that is done


def test_a_watchable_pace_spreads_the_same_drawing_over_seconds(model):
    start, paced, times = time.perf_counter(), [], []
    for frame in by_class_tab.by_class(model, "Stripes", "1", 4, 1.0, "5", 1.0, DEFAULT_PACE):
        paced.append(frame)
        times.append(time.perf_counter())
    seconds = times[-1] - start
    fast = list(by_class_tab.by_class(model, "Stripes", "1", 4, 1.0, "5", 1.0, FAST))
    assert np.array_equal(np.asarray(paced[-1].image), np.asarray(fast[-1].image))  # the pace changes nothing drawn
    pace = PACES[DEFAULT_PACE]
    assert seconds >= pace - 0.2
    gaps = [b - a for a, b in zip(times, times[1:])]
    # All along the pace, not in a few jumps: no sixth of the time this run took without a frame.
    assert len(paced) >= 40 and max(gaps) < seconds / 6, (len(paced), max(gaps), seconds)
    assert len(fast) < len(paced) / 4
    # Frames show the drawing in order: the undrawn (blue) area shrinks frame by frame.
    undrawn = [(np.asarray(f.image.convert("RGB")).reshape(-1, 3) == palette.UNDRAWN).all(1).sum() for f in paced]
    assert all(a >= b for a, b in zip(undrawn, undrawn[1:])) and undrawn[0] > undrawn[-1] == 0
    assert "at a watchable pace" in paced[-1].status


def test_beliefs_record_the_distribution_each_sub_pixel_was_drawn_from(model):
    beliefs = Beliefs((1, 8, 8), 16, temperature=0.5)
    seen = {}

    def hook(channel, row, col, logits):
        seen[(channel, row, col)] = logits[0].clone()
        beliefs(channel, row, col, logits)

    sample(model, 2, labels=torch.tensor([1, 0]), seed=1, guidance=2.0, on_logits=hook)
    assert beliefs.count == 64
    index = 3 * 8 + 5  # row 3, column 5
    assert beliefs.position(index) == (0, 3, 5)
    expected = torch.softmax(seen[(0, 3, 5)].double() / 0.5, 0).numpy()
    assert np.allclose(beliefs.probabilities(index), expected)


def test_entropy_and_the_chart():
    assert entropy_bits(np.full(16, 1 / 16)) == pytest.approx(4.0)
    assert entropy_bits(np.eye(16)[3]) == 0.0
    probs = np.zeros(256)
    probs[[0, 200]] = [0.25, 0.75]
    chart = np.asarray(belief_chart(probs, 200, "test"))
    orange = (chart == (255, 140, 0)).all(2)
    assert orange.any()
    columns = np.flatnonzero(orange.any(0))
    plot_left, plot_width = 10, chart.shape[1] - 20  # the bars' area inside the chart's margins
    assert (columns.mean() - plot_left) / plot_width * 256 == pytest.approx(200.5, abs=1.5)  # the drawn value's bar and marker


def test_the_charts_words_stay_inside_it_however_long():
    # the longest the words get: a guided stage, the model sure of one grey and drawing another
    probs = np.full(256, 1e-7)
    probs[200] = 1.0
    probs /= probs.sum()
    how = "following the class (guidance 0.75)"
    assert len(choice_words(probs, 60)) > 80
    chart = np.asarray(belief_chart(probs, 60, "Image 1: the last pixel it hesitated over (row 28, col 28)", how))
    text = (chart[:, :, :3].astype(int).sum(2) < 450)  # the words' dark pixels (the ground is 250, 250, 252)
    words_rows = slice(17, 38)  # the lines under the title, above the bars' tallest label
    assert text[words_rows].any()
    assert not text[words_rows, WIDTH - 6 :].any()  # nothing runs off the right edge
    assert text[34:38, :100].any()  # the rest went onto a second line
    orange = (chart == (255, 140, 0)).all(2)
    assert orange[38:].any() and not orange[:38].any()  # the drawn value's marker, under the words


def test_the_chart_says_in_words_what_the_model_thought_and_drew():
    probs = np.zeros(256)
    probs[[0, 200]] = [0.98, 0.02]
    assert choice_words(probs, 200) == "it thought black most likely and drew a light grey, a 1-in-50 choice"
    assert choice_words(probs, 0) == "it thought black most likely and drew black: it was sure"
    probs[[0, 3]] = [0.6, 0.38]
    assert choice_words(probs, 3) == "it thought black most likely and drew black: a 38-in-100 choice"
    sketch = np.eye(32)[31]  # a sketch stage's 32 levels: the top one is white, as 255 is
    assert choice_words(sketch, 31) == "it thought white most likely and drew white: it was sure"
    assert [shade(v, 256) for v in (0, 60, 128, 200, 255)] == ["black", "a dark grey", "a mid grey", "a light grey", "white"]


def test_every_frame_carries_the_chart_of_its_marked_pixel(model):
    frames = list(by_class_tab.by_class(model, "Stripes", "0", 2, 1.0, "2", 0.0, FAST))
    assert all(f.belief is not None and f.belief.size == (360, 170) for f in frames)


def test_kept_rows_show_at_once_and_the_pace_spreads_the_rest():
    assert shown_at(0.0, 6.0, done=784, total=784, given=392) == 392
    assert shown_at(3.0, 6.0, done=784, total=784, given=392) == 588


def test_the_chart_follows_the_last_pixel_the_model_hesitated_over():
    beliefs = Beliefs((1, 2, 4), 16)
    sure, unsure = torch.full((2, 16), -50.0), torch.zeros(2, 16)
    sure[:, 3] = 50.0
    second = []
    for index in range(8):
        beliefs(0, index // 4, index % 4, unsure if index in (2, 5) else sure)
        second.append((unsure if index in (2, 5) else sure)[1])
    beliefs.redo = lambda image: torch.stack(second)  # the other images' logits, worked out again once drawn
    assert last_hesitation(beliefs, 4)[0] == 2 and last_hesitation(beliefs, 7)[0] == 5
    index, recent = last_hesitation(beliefs, 1)
    assert index == 1 and recent == pytest.approx([0.0, 0.0])  # no hesitation yet: the latest drawn
    assert last_hesitation(Beliefs((1, 2, 4), 16), 3)[0] == -1  # nothing recorded: nothing to chart
    assert beliefs.entropies(8)[5] == pytest.approx(4.0) and beliefs.entropies(8, image=1)[5] == pytest.approx(4.0)
    canvas = torch.full((2, 1, 2, 4), 3)
    assert chart_for(beliefs, canvas, 7).size == (360, 170) and np.asarray(placeholder_chart()).shape == (170, 360, 3)


def test_a_click_on_a_finished_grid_finds_its_image_and_pixel(model):
    frames = list(by_class_tab.by_class(model, "Stripes", "1", 4, 1.0, "3", 0.0, FAST))
    drawing = frames[-1].drawing
    assert drawing is not None and drawing.columns == 2 and all(f.drawing is None for f in frames[:-1])
    scale = drawing.scale
    # Image 4 (second row, second column), row 2, column 5: past the first gap, one 8x8 tile and its gap.
    x, y = (1 + 9 + 5) * scale + scale // 2, (1 + 9 + 2) * scale + 1
    expected = pixel_chart(drawing.beliefs, drawing.canvas, 3, 2, 5)
    grid, chart = drawing.chart_at(x, y)
    assert np.array_equal(np.asarray(chart), np.asarray(expected))
    # The clicked pixel is outlined on the grid, and nothing else changed.
    plain = np.asarray(frames[-1].image)
    marked = (np.asarray(grid) != plain).any(axis=2)
    rows, columns = np.flatnonzero(marked.any(1)), np.flatnonzero(marked.any(0))
    top, left = (1 + 9 + 2) * scale, (1 + 9 + 5) * scale
    assert rows.min() < top and rows.max() >= top + scale and columns.min() < left and columns.max() >= left + scale
    assert rows.max() - rows.min() <= 2 * scale and not marked[top : top + scale, left : left + scale].any()
    assert (np.asarray(grid)[marked] == palette.MARK).all()
    with pytest.raises(ValueError, match="between the images"):
        drawing.chart_at((1 + 8) * scale, 5 * scale)  # the gap after the first column
    with pytest.raises(ValueError, match="Click a pixel"):
        drawing.chart_at("left", 3)


@pytest.mark.parametrize("kind", ["class", "guided", "no condition", "two-stage"])
def test_a_clicked_images_beliefs_worked_out_again_are_those_it_was_drawn_from(model, kind):
    """Only the first image's logits are kept while drawing; another image's are worked out again when it
    is clicked. They must be what a hook that kept every image's logits saw (guided as drawn; for a
    two-stage model, over the map of the sketch it drew), up to float rounding."""
    from pixelcnn.models import TwoStagePixelCNN
    from pixelcnn.sampling import sample_stages
    from pixelcnn.engine.record import LogitsRecord

    drawer = model
    if kind == "two-stage":
        torch.manual_seed(0)
        drawer = TwoStagePixelCNN.build(2, 4, image_channels=1, image_size=[8, 8], levels=16, hidden_channels=6, num_layers=2, kernel_size=3,
                                        num_classes=2, cond_dropout=0.2).eval()
    ask = dict(labels=torch.tensor([1, 0, 1]), seed=5, temperature=1.3, guidance=2.0 if kind in ("guided", "two-stage") else 0.0)
    if kind == "no condition":
        ask = dict(seed=5, temperature=1.3, no_condition=True)
    kept = LogitsRecord((1, 8, 8), 16, images=3)
    if kind == "two-stage":
        *_, (_, drawn, _, _) = sample_stages(drawer, 3, **ask, on_logits=kept)
    else:
        drawn = sample(drawer, 3, **ask, on_logits=kept)
    drawing = list(frames.stream(frames.Ask(drawer, 3, **ask)))[-1].drawing
    assert torch.equal(drawing.canvas, drawn)
    for image in (1, 2):
        assert torch.allclose(drawing.beliefs.logits(image), kept.logits(image).float(), atol=0.02), image  # kept in half precision
    assert torch.equal(drawing.beliefs.logits(0), kept.first)
