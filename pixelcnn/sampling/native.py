"""The cached sampler's pixel in one native call (`native_pixel.cpp`, `native_kernels.h`): every
gated layer's one-pixel step, the head and the draw, compiled once per machine with torch's own
extension builder and cached under ~/.cache/pixelcnn/native (PIXELCNN_CACHE). Where it cannot be built (no
C++ compiler, a torch without its BLAS symbols) the Python step draws, and the log says so once.
PIXELCNN_NATIVE=0 turns it off. `make native` (part of every set-up) builds it ahead of the first
drawing, which would otherwise wait for the build (about 40 s).
"""

import hashlib
import logging
import os
import platform
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F

from pixelcnn.data.dataset import cache_dir

log = logging.getLogger("pixelcnn.native")
SOURCE = Path(__file__).with_name("native_pixel.cpp")
HEADERS = [Path(__file__).with_name("native_kernels.h")]
# -march=native: the build is this CPU's own (its flags are in the cache key); no fused multiply-adds
# where the Python step rounds twice, so guidance and temperature round as torch does.
FLAGS = ["-O3", "-march=native", "-ffp-contract=off"]
ROW_GRAIN = 64  # batch rows a thread takes at least in a pixel step (fewer: one thread, as small matrix products are best)
STALE_LOCK_SECONDS = 600
CHUNK_BYTES = 1 << 20  # a vertical chunk's inputs and outputs: within a core's cache through every tap

_built = None  # the extension module, False once it could not be built
_lock = threading.Lock()
_enabled = os.environ.get("PIXELCNN_NATIVE", "1") != "0"


def cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor()


def build_dir() -> Path:
    """This source, torch, Python and CPU's own build folder."""
    key = hashlib.sha256("\n".join([SOURCE.read_text(), *(h.read_text() for h in HEADERS), torch.__version__, sys.version, cpu_flags(), " ".join(FLAGS)]).encode()).hexdigest()
    return cache_dir() / "native" / key[:16]


def module():
    """The built extension (built now if it is not yet), or None where it cannot be or is turned off."""
    global _built
    if not _enabled:
        return None
    with _lock:
        if _built is None:
            _built = build()
    return _built or None


def build():
    from torch.utils.cpp_extension import load

    start, directory = time.perf_counter(), build_dir()
    path = os.environ.get("PATH", "")
    try:
        try:  # torch's builder runs `ninja`: the one pip installed (requirements.txt) where it is not on the PATH
            import ninja

            os.environ["PATH"] = os.pathsep.join([ninja.BIN_DIR, path])
        except ImportError:
            pass
        directory.mkdir(parents=True, exist_ok=True)
        lock = directory / "lock"  # torch's builder waits for as long as another build holds it
        if lock.exists() and time.time() - lock.stat().st_mtime > STALE_LOCK_SECONDS:
            lock.unlink(missing_ok=True)  # a build killed on its way (a build takes a minute): nobody holds it now
        built = load("pixelcnn_native_pixel", [str(SOURCE)], build_directory=str(directory), extra_cflags=FLAGS, verbose=False)
    except Exception as err:  # noqa: BLE001 - any failure to build means the Python step draws
        reason = next((line for line in str(err).splitlines() if line.strip()), type(err).__name__)
        log.warning("the native pixel step could not be built (%s): drawing with the Python step (the same images; 6x slower for one digit)", reason[:200])
        return False
    finally:
        os.environ["PATH"] = path
    log.info("native pixel step ready in %.1f s (%s)", time.perf_counter() - start, directory)
    return built


def available() -> bool:
    return module() is not None


@contextmanager
def disabled():
    """Draw with the Python step inside this block (the two are compared in tests and benches)."""
    global _enabled
    before, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = before


def row_biases(steps, row: int) -> list[torch.Tensor]:
    """What `NativePixel.next_row` is given once a row: each layer's vertical biases for `row` and
    horizontal ones for the next (`GatedLayerStep.biases_at`), but none for a spatial map's layers,
    whose biases it makes itself."""
    none = torch.empty(0)
    return [bias for step in steps for bias in ((none, none) if step.map else (step.biases_at(row)[0], step.biases_at(row + 1)[1]))]


def plan(sampler, drawer):
    """A `NativePixel` over the buffers of a `Cached` sampler and its `Drawer`, or None where the
    native step does not apply (not built, not float32 on the CPU)."""
    from pixelcnn.engine.record import LogitsRecord

    weight = sampler.head.gated
    if weight.dtype != torch.float32 or weight.device.type != "cpu":
        return None
    built = module()
    if built is None:
        return None
    steps, head = sampler.steps, sampler.head
    records, hooks = [], []
    for hook, lo, hi in drawer.hooks:
        if isinstance(hook, LogitsRecord) and hook.first.dtype == torch.float32 and hook.others.dtype == torch.float16:
            records.append((lo, hi, hook))
        else:
            hooks.append((lo, hi, hook))
    return built.NativePixel(
        [s.row for s in steps], [s.row_bias for s in steps], [s.horizontal for s in steps], [s.pre_group for s in steps],
        [s.residual or [] for s in steps], [s.column for s in steps], [s.pre for s in steps], [s.link_weight for s in steps],
        [s.vertical for s in steps], [s.map[0].contiguous() if s.map else None for s in steps], [s.map[1] if s.map else None for s in steps],
        [F.linear(s.cond_vec, *s.cond).contiguous() if s.map and s.cond else None for s in steps], steps[0].cond_map,
        [b for lo_hi in head.bounds for b in lo_hi],
        head.gated, head.skip, head.hidden, head.hidden_b, head.out, head.out_b, sampler.intensity,
        drawer.images, drawer.row_images, drawer.second, drawer.guided.contiguous(), drawer.scale[0].contiguous(),
        drawer.temperature[0].contiguous(), drawer.known, drawer.known_mask, drawer.canvas, drawer.kept, drawer.nats, drawer.counting,
        [b for lo, hi, _ in records for b in (lo, hi)], [r.first for _, _, r in records], [r.others for _, _, r in records],
        [r.recorded for _, _, r in records], [b for lo, hi, _ in hooks for b in (lo, hi)], [h for _, _, h in hooks],
        ROW_GRAIN, CHUNK_BYTES,
    )


def main() -> None:
    """Build it now and say so (`make native`)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print("native pixel step:", "ready" if available() else "not available: the Python step draws")
