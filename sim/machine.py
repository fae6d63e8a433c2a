"""What this machine can give a run: memory available now, free disk space."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def available_memory_bytes() -> float:
    """Memory the machine can give a new process now (``MemAvailable``), in bytes."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def free_disk_bytes(directory: Path) -> float:
    """Free bytes on the file system that holds ``directory`` (or its nearest ancestor)."""
    directory = Path(directory).absolute()
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    return float(shutil.disk_usage(directory).free)
