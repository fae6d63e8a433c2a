"""Named, independent random streams derived from one scenario seed.

Every stochastic component draws from its own ``numpy.random.Generator``, spawned from
``SeedSequence(seed, spawn_key=(replication, STREAM_ID[name], *index))``. Because each stream
depends only on its name, changing one component (the balancer, the hardware) leaves every
other stream - in particular the arrivals - bit-identical, so policies are compared on the
same input.
"""

import zlib

import numpy as np

# Append-only: changing an existing id changes every trace produced with that stream.
STREAM_ID: dict[str, int] = {
    "arrivals": 0,
    "mix": 1,
    "seq_len": 2,
    "balancer": 3,
    "pool": 4,
    "trace_sample": 5,
    "jitter": 6,
    "failures": 7,  # time to failure and time to repair, per pool
    "spot": 8,  # spot interruptions and which launches are spot, per pool
    "retry": 9,  # client retry backoff jitter
    "patience": 10,  # client timeouts drawn per request
}


def stream(seed: int, name: str, *index: int, replication: int = 0) -> np.random.Generator:
    """Return the Generator for one named stream.

    Args:
        seed: The scenario seed.
        name: A key of ``STREAM_ID``.
        *index: Further integers that tell apart several streams of one kind (pool number...).
        replication: Independent replication number; 0 for a single run.

    Returns:
        A fresh PCG64 Generator; the same arguments always give the same sequence.

    """
    key = (int(replication), STREAM_ID[name], *(int(i) for i in index))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=key)))


def name_index(name: str) -> int:
    """A stable integer for a name (CRC-32), used as a stream index.

    Indexing streams by name rather than by position means adding a pool or a mix entry
    leaves the streams of the others unchanged.
    """
    return zlib.crc32(name.encode("utf-8"))
