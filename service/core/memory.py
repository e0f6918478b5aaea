"""Memory of long one-shot loads: pausing the cycle collector, giving freed heap back."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused(freeze: bool = False) -> Iterator[None]:
    """Pause the cycle collector while a block builds many long-lived, acyclic objects: left
    on, it finds nothing to free but rescans them all at every full pass, holding the GIL.
    With ``freeze``, what the block built is moved out of the collector's sight for good (it
    lives as long as the process). The collector's state before the block comes back after it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if was_enabled:
            gc.enable()


def release_free_memory() -> None:
    """Return the C heap's free pages to the system (glibc's ``malloc_trim``; elsewhere nothing).

    Loading the index frees a few hundred MB of transient rows and arrays inside the heap, which
    glibc keeps for reuse by the process: its resident size stays that much higher (about 140 MB
    at 100,000 profiles) through the peak that follows, the export's search (50 MB of it)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError, TypeError):  # not glibc: nothing to do
        return
    trim.argtypes = [ctypes.c_size_t]
    trim(0)
