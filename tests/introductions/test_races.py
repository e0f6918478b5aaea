"""Racing requests end in exactly one outcome: real server, two workers, real concurrency."""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.conftest import profile_payload
from tests.test_server import ADMIN, server_factory  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow


def _register(c: httpx.Client, base: str, country: str) -> tuple[str, dict]:
    r = c.post(base + "/v1/profiles", json=profile_payload(country=country))
    assert r.status_code == 201, r.text
    return r.json()["id"], {"X-API-Key": r.json()["api_key"]}


def _at_once(calls: list) -> list[httpx.Response]:
    """Run the calls in threads released together; their responses in order."""
    gate = threading.Barrier(len(calls))
    out: list = [None] * len(calls)

    def run(i: int) -> None:
        with httpx.Client(timeout=30) as c:  # a connection each: they may reach either worker
            gate.wait()
            out[i] = calls[i](c)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_racing_answers_and_mutual_interests_end_in_one_outcome(server_factory):  # noqa: F811
    srv = server_factory(workers=2).start()
    with httpx.Client(timeout=30) as c:
        for _ in range(4):
            _one_round(c, srv.url)


def _one_round(c: httpx.Client, base: str) -> None:
    a, a_key = _register(c, base, "IN")
    b, b_key = _register(c, base, "KR")
    # Two accepts and a withdrawal of one interest, all at once.
    interest = c.post(f"{base}/v1/profiles/{a}/interests", json={"to": b}, headers=a_key)
    iid = interest.json()["id"]
    done = _at_once(
        [
            lambda h: h.post(f"{base}/v1/interests/{iid}/accept", headers=b_key),
            lambda h: h.post(f"{base}/v1/interests/{iid}/accept", headers=b_key),
            lambda h: h.post(f"{base}/v1/interests/{iid}/withdraw", headers=a_key),
        ]
    )
    codes = sorted(r.status_code for r in done)
    assert codes == [200, 409, 409], [r.text for r in done]
    final = c.get(f"{base}/v1/interests/{iid}", headers=ADMIN).json()["state"]
    winner = next(r for r in done if r.status_code == 200).json()["state"]
    assert final == winner
    intros = c.get(f"{base}/v1/introductions?profile={a}", headers=ADMIN).json()
    assert len(intros["items"]) == (1 if final == "accepted" else 0)

    # Two firms sending each other an interest at the same moment end introduced once.
    x, x_key = _register(c, base, "IN")
    y, y_key = _register(c, base, "KR")
    sent = _at_once(
        [
            lambda h: h.post(f"{base}/v1/profiles/{x}/interests", json={"to": y}, headers=x_key),
            lambda h: h.post(f"{base}/v1/profiles/{y}/interests", json={"to": x}, headers=y_key),
        ]
    )
    assert [r.status_code for r in sent] == [201, 201], [r.text for r in sent]
    states = sorted(r.json()["state"] for r in sent)
    assert states == ["accepted", "pending"] or states == ["accepted", "accepted"]
    listed = c.get(f"{base}/v1/introductions?profile={x}", headers=ADMIN).json()
    assert [i["state"] for i in listed["items"]] == ["active"]
    both = [c.get(f"{base}/v1/interests/{r.json()['id']}", headers=ADMIN).json() for r in sent]
    assert {i["state"] for i in both} == {"accepted"}
