"""Giving freed heap memory back to the operating system."""

from __future__ import annotations

import ctypes
import ctypes.util


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
