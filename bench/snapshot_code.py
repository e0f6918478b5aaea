"""Pin the code under test: extract a git revision of the repository into bench/data/code-<sha>.

The service code in /work/main is edited while benchmarks run, so a run can mix versions. Run a
benchmark against a pinned commit by putting the snapshot first on PYTHONPATH (it then wins
over the editable install for ``service`` and ``embeddings``, for the bench scripts and for
every ``matchmaker`` subprocess they start):

    .venv/bin/python bench/snapshot_code.py --rev HEAD          # prints the directory
    PYTHONPATH=bench/data/code-<sha> .venv/bin/python bench/latency.py --data-dir ...

All bench scripts record which code they imported (results JSON, key "code").
Uses ``git archive`` (read-only on the repository); nothing outside bench/ is written.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rev", default="HEAD")
    a = ap.parse_args()
    sha = subprocess.run(
        ["git", "rev-parse", "--short", a.rev], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    dest = ROOT / "bench" / "data" / f"code-{sha}"
    if not (dest / "service").exists():
        data = subprocess.run(
            [
                "git",
                "archive",
                "--format=tar",
                sha,
                "service",
                "embeddings",
                "migrations",
                "alembic.ini",
                "seed_data",
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(dest, filter="data")
        (dest / "SNAPSHOT_REV").write_text(sha + "\n")
    print(dest.relative_to(ROOT))


if __name__ == "__main__":
    main()
