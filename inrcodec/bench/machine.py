"""What the machine is and how fast it multiplies matrices: the scale for every speed reported."""

import os
import platform
import subprocess
import time
from pathlib import Path

import torch


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return (f"{cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, "
            f"torch {torch.__version__}")


def load_average() -> float | None:
    """The 1-minute load average: other work on the machine slows every codec alike."""
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return None


def load_text(loads: list, speeds: str = "every speed here") -> str:
    """A sentence, with a leading space, on the load average at the start and the end of a run
    (``loads``, Nones ignored), for a report of speeds; empty without any."""
    loads = [x for x in loads if x is not None]
    if not loads:
        return ""
    return (f" The machine's 1-minute load average was {loads[0]:.1f} at the start and "
            f"{loads[-1]:.1f} at the end of the run; above the number of cores, other processes "
            f"competed with the run for the CPU and {speeds} is lower than an idle machine's.")


def matmul_flops(n: int = 1024, repeats: int = 10) -> float:
    """float32 FLOP/s of one large ``torch.matmul`` with the current torch threads (the best of
    ``repeats``, so a busy neighbour on another core costs as little as possible)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.matmul(a, b)  # first call pays for allocation and dispatch
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best


def commit() -> str | None:
    """inrcodec's git commit (short hash, "+changes": the tracked tree outside docs/ differs
    from it), or None outside a git checkout. docs/ is left out: pipelines run one after another
    rewrite it, and a document's figures depend on the code, not on the other documents."""
    here = Path(__file__).parent
    try:
        head = subprocess.run(["git", "-C", str(here), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        changed = subprocess.run(["git", "-C", str(here), "status", "--porcelain",
                                  "--untracked-files=no", "--", ":/", ":(exclude,top)docs"],
                                 capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode:
        return None
    return head.stdout.strip() + ("+changes" if changed.stdout.strip() else "")


def revision() -> str:
    """inrcodec's version and, in a git checkout, its commit ("+changes": the tree differs)."""
    from .. import __version__

    at = commit()
    return f"inrcodec {__version__}" + (f", commit {at}" if at else "")
