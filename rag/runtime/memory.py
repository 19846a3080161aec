"""Give freed heap memory back to the operating system.

glibc keeps memory that Python and torch free in its heap arenas, so a server's RSS
stays at the high-water mark of its busiest moment (an upload's index build, a batch
of reader windows). `malloc_trim(0)` returns the free pages. Elsewhere (musl, macOS)
this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any


@functools.cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def trim() -> bool:
    """Return free heap pages to the OS; True where glibc released any."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
