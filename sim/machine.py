"""What this machine can give a run: memory available now, free disk space."""

from __future__ import annotations

import os
import resource
import shutil
from pathlib import Path


def available_memory_bytes() -> float:
    """Memory this process can still use (bytes).

    What the machine has available (``MemAvailable``), or less under an address-space limit
    (``ulimit -v``).
    """
    available = float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    available = float(line.split()[1]) * 1024
    except OSError:
        pass
    limit, _ = resource.getrlimit(resource.RLIMIT_AS)
    if limit != resource.RLIM_INFINITY:
        try:
            with open("/proc/self/statm", encoding="ascii") as statm:
                used = float(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            used = 0.0
        available = min(available, max(limit - used, 0.0))
    return available


def free_disk_bytes(directory: Path) -> float:
    """Free bytes on the file system that holds ``directory`` (or its nearest ancestor)."""
    directory = Path(directory).absolute()
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    return float(shutil.disk_usage(directory).free)
