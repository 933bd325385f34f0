"""The Auto-encoder tab through the real server."""

import re

import numpy as np
import pytest
from PIL import Image
from gradio_client import handle_file

from pixelcnn.pictures.writing import to_uint8
from pixelcnn.pictures.reading import model_pixels
from pixelcnn.studio import shelf

from .helpers import EXAMPLES
from .page_helpers import WATCHABLE, make_bad_files


def test_an_autoencoder_request_shows_the_mse_reconstruction_and_streams_decodings(client, tmp_path):
    # At the watchable pace, so that the decodings stream in many frames on any machine, however fast.
    job = client.submit(handle_file(str(EXAMPLES / "mnist-test-7.png")), None, 4, 1.0, "3", WATCHABLE, api_name="/autoencode")
    frames = list(job)
    assert job.status().success
    pair, grid, belief, status = frames[-1]
    assert Image.open(belief).size == (360, 170)
    assert len(frames) >= 20 and status.startswith("Done: 4 images")
    # What the code kept, read by the MNIST model: the input, then how many decodings are the same digit.
    assert re.search(r"Your picture reads as a 7; [0-4] of 4 decodings read as a 7 too \(the MSE reconstruction (does|does not)\)\.$", status)
    assert not any("reads as" in frame[-1] for frame in frames[:-1])
    scale = max(2, 240 // 28)
    pair = np.asarray(Image.open(pair).convert("L"))
    assert pair.shape == ((28 + 2) * scale, (2 * 29 + 1) * scale)
    # The left half is the digit as the encoders see it.
    digit = to_uint8(model_pixels(shelf.bundled("mnist"), Image.open(EXAMPLES / "mnist-test-7.png")), 256)[0, :, :, 0]
    assert np.array_equal(pair[scale : scale + 28 * scale : scale, scale : scale + 28 * scale : scale], digit)
    assert Image.open(grid).size == ((2 * 29 + 1) * max(2, 560 // (2 * 29)),) * 2
    with pytest.raises(Exception, match="The uploaded file is empty"):
        client.predict(handle_file(str(make_bad_files(tmp_path)["empty"][0])), None, 2, 1.0, "", api_name="/autoencode")
