"""PixelCNN studio: watch a Gated PixelCNN draw, pixel by pixel (the Hugging Face Spaces entry point).

    python app.py                      # bundled weights from assets/, http://127.0.0.1:7860
    python app.py --hub org/repo       # weights through the Hugging Face Hub (falls back to assets/)

Honours GRADIO_SERVER_NAME and GRADIO_SERVER_PORT. The page is `pixelcnn.studio`.
"""

import argparse
import logging
import os
import sys

import torch


def main(argv=None):
    # Imported here, not above: the drawing engine's process (`pixelcnn.engine.process`) imports
    # this file as its main module, and needs none of the page.
    from pixelcnn.memory import tame_malloc
    from pixelcnn.studio import build, launch, load_models

    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--hub", default=os.environ.get("PIXELCNN_HUB_REPO"),
                        help="Hub location org/repo holding mnist/, fashion-mnist/ (default: env PIXELCNN_HUB_REPO)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default: 1: one engine draws every visitor's images in shared batches on one core, and "
                             "the other core makes the frames and serves the page; measured faster for a crowd than 2, see README)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    tame_malloc()
    torch.set_num_threads(args.threads)
    models, notes = load_models(args.hub)
    for note in notes:
        print(note, file=sys.stderr)
    page = build(models, notes)
    launch(page)


if __name__ == "__main__":
    main()
