"""Large buffers straight from the operating system and back, during export builds.

An export churns through blocks of about 1 MiB (spool frames, tar chunks, AES-GCM frames,
LMDB's page lists). glibc raises its mmap threshold to the size of each large block
freed (up to 32 MB), so after the first frame such blocks come from the heap, which the
small objects allocated between them fragment: the process grew by some 10 MB from
10,000 to 100,000 crops though Python's own allocations stayed flat (measured with
``make bench-export``; LMDB 83 → 94 MB). A fixed threshold, glibc's own starting value,
turns that adjustment off for this process: the peak is then the same at any size.
Elsewhere than glibc there is nothing to do.
"""

import ctypes
import functools
import logging

logger = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3  # <malloc.h>
MMAP_THRESHOLD = 128 << 10  # glibc's default before it adjusts it


@functools.cache
def pin_mmap_threshold() -> bool:
    """Once per process; True where the C library took the setting."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    pinned = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    if not pinned:
        logger.info("mallopt(M_MMAP_THRESHOLD) refused: export memory may drift upward")
    return pinned
