"""A webhook posts only where its URL's name leads to an allowed address, and connects to the
address it checked (``service.webhooks.addresses``)."""

from __future__ import annotations

import ipaddress
import socket
import ssl

import httpx
import pytest
import trustme
from fastapi.testclient import TestClient

from service.app import create_app
from service.config import WebhookSettings
from service.webhooks.addresses import allowed
from service.webhooks.deliverer import WebhookDeliverer
from tests.conftest import create_profile
from tests.webhooks.conftest import FAST, Receiver, emit, wait_for

PRIVATE = "the webhook URL must not point at a private or reserved address"


@pytest.mark.parametrize(
    ("address", "loopback_allowed", "expected"),
    [
        ("93.184.216.34", False, True),
        ("2606:2800:220:1:248:1893:25c8:1946", False, True),
        ("10.0.0.7", True, False),
        ("172.17.0.2", True, False),
        ("100.64.0.1", True, False),  # carrier-grade NAT
        ("169.254.169.254", True, False),  # cloud metadata
        ("::ffff:10.0.0.1", True, False),  # IPv4-mapped private
        ("fd00::1", True, False),
        ("127.0.0.1", False, False),
        ("127.0.0.1", True, True),
        ("::1", True, True),
        ("0.0.0.0", True, False),
    ],
)
def test_which_addresses_a_webhook_may_reach(address, loopback_allowed, expected):
    assert allowed(ipaddress.ip_address(address), loopback_allowed) is expected


def strict(settings):
    return settings.model_copy(
        update={"webhook": WebhookSettings(**FAST | {"allow_localhost": False})}
    )


def put(client, profile_id, url, headers):
    return client.put(f"/v1/profiles/{profile_id}/webhook", json={"url": url}, headers=headers)


def test_names_that_lead_into_the_servers_network_are_refused_at_registration(settings, encoder):
    own = socket.gethostname()  # in /etc/hosts on most machines, as 127.0.x.1 or a private address
    own_addresses = {info[4][0] for info in socket.getaddrinfo(own, 443)}
    names = ["https://0x7f000001/hook", "https://127.1/hook"]
    if not any(allowed(ipaddress.ip_address(a), False) for a in own_addresses):
        names.append(f"https://{own}/hook")
    with TestClient(create_app(strict(settings), encoder=encoder)) as client:
        a, owner = create_profile(client)
        for url in names:
            r = put(client, a["id"], url, owner)
            assert r.status_code == 422, (url, r.text)
            [err] = r.json()["detail"]
            # pydantic writes 0x7f000001 and 127.1 as 127.0.0.1, refused as localhost
            refusals = (PRIVATE, "webhook URLs on localhost are not allowed")
            assert err["loc"] == ["body", "url"] and err["msg"] in refusals, (url, err)
        # a name that does not resolve now is accepted: each delivery resolves it again
        assert put(client, a["id"], "https://hooks.invalid/x", owner).status_code == 201


def sessions_of(client):
    return client.app.state.matchmaker.sessions


def deliver_one(client, deliverer, profile_id):
    """Emit an event and have ``deliverer`` (not the app's own) claim and post it."""
    emit(sessions_of(client), profile_id)
    [item] = deliverer.claim(10)
    return deliverer.deliver(item)


def test_a_delivery_is_refused_when_the_name_now_leads_into_the_network(client, receiver, settings):
    # registered where local webhooks are allowed; a server that does not allow them refuses
    # at delivery, without a connection: the check is made each time, not only at registration
    a, owner = create_profile(client)
    assert put(client, a["id"], f"http://localhost:{receiver.port}/hook", owner).status_code == 201
    client.app.state.matchmaker.webhooks.stop()
    deliverer = WebhookDeliverer(sessions_of(client), strict(settings))
    try:
        outcome = deliver_one(client, deliverer, a["id"])
    finally:
        deliverer.stop()
    assert outcome.status_code is None and outcome.error == PRIVATE
    assert receiver.requests == []


def test_a_name_is_posted_to_at_its_checked_address_with_its_own_host_header(client, receiver):
    a, owner = create_profile(client)
    assert put(client, a["id"], f"http://localhost:{receiver.port}/hook", owner).status_code == 201
    event = emit(sessions_of(client), a["id"])
    wait_for(lambda: receiver.to(event))
    [got] = receiver.to(event)
    assert got.headers["host"] == f"localhost:{receiver.port}"


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


def tls_receiver(ca: trustme.CA, name: str) -> Receiver:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    return Receiver(tls=context, host="localhost").start()


@pytest.mark.parametrize(("certified", "delivered"), [("localhost", True), ("other.test", False)])
def test_https_checks_the_certificate_against_the_registered_name(
    client, settings, ca, certified, delivered
):
    # the connection goes to 127.0.0.1, but TLS must still name and verify "localhost"
    rx = tls_receiver(ca, certified)
    try:
        a, owner = create_profile(client)
        assert put(client, a["id"], rx.url, owner).status_code == 201
        client.app.state.matchmaker.webhooks.stop()
        deliverer = WebhookDeliverer(sessions_of(client), settings)
        trust = ssl.create_default_context()
        ca.configure_trust(trust)
        deliverer.client.close()
        deliverer.client = httpx.Client(verify=trust, follow_redirects=False)  # the test CA
        try:
            outcome = deliver_one(client, deliverer, a["id"])
        finally:
            deliverer.stop()
    finally:
        rx.stop()
    if delivered:
        assert outcome.ok, outcome
        [got] = rx.requests
        assert got.headers["host"] == f"localhost:{rx.port}"
    else:
        assert outcome.status_code is None and outcome.error, outcome
        assert rx.requests == []
