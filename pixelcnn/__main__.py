"""`python -m pixelcnn COMMAND` is the `pixelcnn` command (and what torchrun -m runs)."""

from pixelcnn.cli import main

main()
