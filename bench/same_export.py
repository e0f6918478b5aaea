"""Whether two versions of the code write the same whole-registry export, at scale.

``matchmaker export --format parquet --top-k 10`` of one registry, once with code pinned by
``snapshot_code.py --rev <sha>`` and once with the checkout, one after the other; the two files
are read back and compared table to table (pyarrow ``Table.equals``: schema, every column,
every row, in the export's defined order: Indian profile, best score first, Korean profile).
Where they differ, the columns that differ are named. ``same_output.py`` covers ``/matches``
and a JSONL export of the curated registry; this covers the Parquet file at 100,000 profiles.

    .venv/bin/python bench/snapshot_code.py --rev f3137a0
    .venv/bin/python bench/same_export.py --rev f3137a0 --data-dir bench/data/reg-100k

Writes bench/results/same_export-<rev>-HEAD.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MATCHMAKER, ROOT, abspath, header, log, write_result


def export(data_dir: Path, out: Path, pythonpath: str | None) -> float:
    env = dict(os.environ)
    env.pop("MATCHMAKER_DATABASE_URL", None)
    env.pop("PYTHONPATH", None)
    env |= {"MATCHMAKER_DATA_DIR": str(data_dir), "MATCHMAKER_LOG_LEVEL": "WARNING"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    cmd = [str(MATCHMAKER), "export", "--format", "parquet", "--out", str(out), "--top-k", "10"]
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return round(time.perf_counter() - t0, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rev", required=True, help="the pinned code: bench/data/code-<rev>")
    ap.add_argument("--data-dir", type=Path, default=Path("bench/data/reg-100k"))
    a = ap.parse_args()
    import pyarrow.parquet as pq

    pinned = ROOT / "bench" / "data" / f"code-{a.rev}"
    if not (pinned / "service").exists():
        sys.exit(f"pin the code first: .venv/bin/python bench/snapshot_code.py --rev {a.rev}")
    res = header("same_export")
    res["command"] = "python bench/same_export.py " + " ".join(sys.argv[1:])
    data_dir = abspath(a.data_dir)
    tmp = Path(tempfile.mkdtemp(prefix="same-export-", dir=ROOT / "bench" / "data"))
    try:
        files = {a.rev: tmp / "pinned.parquet", "HEAD": tmp / "checkout.parquet"}
        for name, out in files.items():
            log(f"export of {data_dir.name} with {name} ...")
            res[f"seconds_{name}"] = export(data_dir, out, str(pinned) if name == a.rev else None)
        old, new = (pq.read_table(f) for f in files.values())
        res |= {
            "registry": data_dir.name,
            "rows": {a.rev: old.num_rows, "HEAD": new.num_rows},
            "identical": old.equals(new),
            "columns_differing": [
                c
                for c in old.column_names
                if c not in new.column_names or not old[c].equals(new[c])
            ],
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log(
        f"{res['rows']} rows; Table.equals: {res['identical']}; "
        f"columns differing: {res['columns_differing'] or 'none'}"
    )
    write_result(f"same_export-{a.rev}-HEAD", res)


if __name__ == "__main__":
    main()
