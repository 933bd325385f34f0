"""Where a run trains: one process or many (torchrun sets WORLD_SIZE; DDP over gloo on the CPU,
nccl on CUDA), the arithmetic it trains in, and the hardware line of its model card."""

import os
import platform
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist


@dataclass
class World:
    rank: int = 0
    size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_world(threads: int = 0) -> World:
    size = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local_rank}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    if size > 1:
        dist.init_process_group("nccl" if cuda else "gloo")
    torch.set_num_threads(threads or max(1, usable_cores() // size))
    return World(dist.get_rank() if size > 1 else 0, size, device)


def native_bf16(device: torch.device) -> bool:
    """Whether this device does bf16 arithmetic in hardware (not emulated through fp32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """--precision -> the autocast dtype (None = plain fp32)."""
    if precision not in ("auto", "fp32", "bf16"):
        raise SystemExit(f"--precision must be auto, fp32 or bf16, not {precision!r}.")
    if precision == "bf16" or (precision == "auto" and native_bf16(device)):
        return torch.bfloat16
    return None


def mean_over_ranks(value: torch.Tensor, world: World) -> torch.Tensor:
    if world.size > 1:
        value = value.detach().clone()
        dist.all_reduce(value)
        value /= world.size
    return value


def hardware(world: World) -> str:
    if world.device.type == "cuda":
        what = f"{world.size} x {torch.cuda.get_device_name(world.device)}"
    else:
        what = f"{world.size} process(es) x {torch.get_num_threads()} thread(s) on {usable_cores()} CPU cores ({platform.processor() or platform.machine()})"
    return f"{what}, torch {torch.__version__}"


def usable_cores() -> int:
    """The cores this process may run on (`taskset`, a container's CPU set), not all the machine has."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
