"""Whether two versions of the code give the same match lists and the same export.

For a restructuring that must not change behaviour: seeds the curated registry and serves it with
the checkout and with code pinned by ``snapshot_code.py --rev <sha>``, each version seeding and
serving its own copy one after the other, and compares every profile's ``/matches`` (ids, scores, explanations, evidence) and a JSONL export
of pairings, byte for byte after parsing. Prints the first difference, if any.

    .venv/bin/python bench/snapshot_code.py --rev 27fe491
    .venv/bin/python bench/same_output.py --rev 27fe491 --data-dir bench/data/same-output
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ADMIN_KEY, ROOT, Server, abspath, ensure_models, header, log, write_result


def seed(data_dir: Path, code_env: dict[str, str]) -> None:
    """The curated seed registry, written by the version under test (its own schema)."""
    shutil.rmtree(data_dir, ignore_errors=True)
    ensure_models(data_dir)
    env = {"MATCHMAKER_DATA_DIR": str(data_dir), "PATH": str(ROOT / ".venv" / "bin")} | code_env
    matchmaker = str(ROOT / ".venv" / "bin" / "matchmaker")
    subprocess.run([matchmaker, "seed", "--if-empty"], env=env, check=True, cwd=ROOT)


def outputs(server: Server, limit: int) -> dict[str, object]:
    """Every profile's match list and one export, as parsed JSON."""
    auth = {"X-API-Key": ADMIN_KEY}
    out: dict[str, object] = {}
    with httpx.Client(base_url=server.base, headers=auth, timeout=120) as c:
        names: dict[str, str] = {}
        params: dict[str, object] = {"limit": 200}
        while True:
            page = c.get("/v1/profiles", params=params).json()
            names |= {p["id"]: p["name"] for p in page["items"]}
            if not page["next_cursor"]:
                break
            params["cursor"] = page["next_cursor"]
        for pid, name in names.items():
            r = c.get(f"/v1/profiles/{pid}/matches", params={"limit": limit})
            out[f"matches {name}"] = r.json()
        job = c.post("/v1/exports", json={"format": "jsonl", "top_k": limit}).json()
        while (status := c.get(f"/v1/exports/{job['id']}").json())["status"] in (
            "queued",
            "running",
        ):
            time.sleep(0.2)
        rows = c.get(f"/v1/exports/{job['id']}/file").text.splitlines()
        out["export"] = [json.loads(line) for line in rows]
        out["export status"] = {k: status[k] for k in ("status", "rows")}
    # Public ids are random per registry: name each profile by its (unique) name instead.
    text = json.dumps(out, sort_keys=True)
    for pid, name in names.items():
        text = text.replace(json.dumps(pid), json.dumps("name:" + name))
    return json.loads(text)


def pinned_code(rev: str) -> Path:
    pinned = ROOT / "bench" / "data" / f"code-{rev}"
    if not (pinned / "service").exists():
        sys.exit(f"pin the code first: .venv/bin/python bench/snapshot_code.py --rev {rev}")
    return pinned


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--rev", required=True, help="the pinned code to compare: bench/data/code-<rev>"
    )
    ap.add_argument("--against", help="compare with this pinned revision instead of the checkout")
    ap.add_argument("--data-dir", type=Path, default=Path("bench/data/same-output"))
    ap.add_argument("--limit", type=int, default=10)
    a = ap.parse_args()
    data_dir = abspath(a.data_dir)
    versions: list[tuple[str, dict[str, str]]] = [("HEAD", {})]
    if a.against:
        versions = [(a.against, {"PYTHONPATH": str(pinned_code(a.against))})]
    versions.append((a.rev, {"PYTHONPATH": str(pinned_code(a.rev))}))
    new_name = versions[0][0]
    result = header("same_output") | {"rev": a.rev, "against": new_name, "limit": a.limit}
    got: dict[str, dict[str, object]] = {}
    for name, env in versions:
        copy = data_dir.parent / f"{data_dir.name}-{name}"
        seed(copy, env)
        with Server(copy, extra_env=env, log_name=f"same-output-{name}") as server:
            got[name] = outputs(server, a.limit)
        log(f"{name}: {len(got[name]) - 2} match lists, {len(got[name]['export'])} export rows")
    head, old = got[new_name], got[a.rev]
    differing = [k for k in head if head[k] != old.get(k)] + [k for k in old if k not in head]
    digest = {
        n: hashlib.sha256(json.dumps(v, sort_keys=True).encode()).hexdigest()
        for n, v in got.items()
    }
    result |= {
        "match_lists": len(head) - 2,
        "export_rows": len(head["export"]),
        "identical": not differing,
        "differing": differing[:20],
        "sha256": digest,
    }
    for k in differing[:3]:
        log(
            f"differs: {k}\n  {new_name}: {json.dumps(head.get(k))[:600]}\n  {a.rev}: {json.dumps(old.get(k))[:600]}"
        )
    log(f"identical: {not differing} ({len(differing)} of {len(head)} outputs differ)")
    write_result(f"same_output-{a.rev}-{new_name}", result)


if __name__ == "__main__":
    main()
