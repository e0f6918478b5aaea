"""Folders and files only their owner can read.

The data folder holds every profile (with contact e-mails) in the SQLite file, the index and
the exports, and the default umask made them world-readable (0644). What the service creates
there is made 0700 (folders) and 0600 (files) from the start, so there is no moment when
another local user could open it. Existing folders and files are left as they are (the data
folder may be one the operator chose); ``chmod -R go= data`` tightens an older one.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) readable by the owner only; an existing folder is
    left alone."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty, readable by the owner only, replacing any file there, so that
    whatever then opens it for writing writes into a 0600 file."""
    path.unlink(missing_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    return path
