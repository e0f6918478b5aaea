"""examples/webhook_receiver.py (the README's receiver) against the real deliverer."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx

from service.webhooks.signing import sign
from tests.conftest import ROOT, create_profile
from tests.test_server import free_port
from tests.webhooks.conftest import emit, wait_for


def test_the_example_receiver_verifies_dedups_and_prints_each_event_once(client):
    a, owner = create_profile(client)
    port = free_port()
    r = client.put(
        f"/v1/profiles/{a['id']}/webhook",
        json={"url": f"http://127.0.0.1:{port}/"},
        headers=owner,
    )
    secret = r.json()["secret"]
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / "webhook_receiver.py"), "--port", str(port)]
        + ["--secret", secret],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        wait_for(lambda: _listening(port))
        event_id = emit(client.app.state.matchmaker.sessions, a["id"], "interest.accepted", x=1)
        items = f"/v1/profiles/{a['id']}/webhook/deliveries"
        wait_for(
            lambda: client.get(items, headers=owner).json()["items"][0]["state"] == "delivered"
        )
        # The same delivery again (at least once): accepted, not printed twice.
        body = json.dumps(
            {"id": event_id, "type": "interest.accepted", "created_at": "x", "data": {}}
        ).encode()
        headers = {"X-Matchmaker-Signature": sign(secret, body), "X-Matchmaker-Event-Id": event_id}
        again = httpx.post(f"http://127.0.0.1:{port}/", content=body, headers=headers)
        assert again.status_code == 200
        # Tampered, signed with another secret, or too old: refused.
        for bad_body, bad_header in (
            (body.replace(b"accepted", b"declined"), headers["X-Matchmaker-Signature"]),
            (body, sign("whsec_other", body)),
            (body, sign(secret, body, timestamp=int(time.time()) - 3600)),
        ):
            r = httpx.post(
                f"http://127.0.0.1:{port}/",
                content=bad_body,
                headers=headers | {"X-Matchmaker-Signature": bad_header},
            )
            assert r.status_code == 400
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(e["id"], e["type"], e["data"]) for e in lines] == [
        (event_id, "interest.accepted", {"x": 1})
    ]


def _listening(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
        return True
    except httpx.HTTPError:
        return False
