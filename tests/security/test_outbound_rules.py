"""Where the server may send requests: the policy, and its checks on real connections."""

from __future__ import annotations

import asyncio
import logging
import ssl
import subprocess
from collections.abc import Iterator
from ipaddress import ip_address
from pathlib import Path

import httpx
import pytest

from ablab.domain.trust import OutboundPolicy
from ablab.errors import ValidationError
from ablab.llm.runners import RunOutcome, TaskRun, WebhookRunner
from ablab.notify import WebhookAlerts
from ablab.services.access.outbound import (
    GuardedAsyncTransport,
    GuardedTransport,
    OutboundRefused,
    check_url,
    literal_address,
)
from tests.gateway.model_server import ModelServer
from tests.llm.example_app import ExampleApp

DEFAULT = OutboundPolicy()
NO_LOOPBACK = OutboundPolicy.from_rules(allow=[], deny=["127.0.0.0/8", "::1"])


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",  # AWS, GCP, Azure metadata
        "169.254.170.2",  # ECS task metadata
        "fe80::1",
        "fd00:ec2::254",  # AWS metadata over IPv6
        "100.100.100.200",  # Alibaba Cloud metadata
        "::ffff:169.254.169.254",  # IPv4-mapped
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "ff02::1",
        "255.255.255.255",
    ],
)
def test_never_reached_by_default(address: str) -> None:
    assert DEFAULT.address_refusal(ip_address(address)) is not None
    assert DEFAULT.host_refusal(address) is not None
    # The operator cannot allow them back: deny wins.
    allowing = OutboundPolicy.from_rules(allow=[address, "0.0.0.0/0", "::/0"], deny=[])
    assert allowing.address_refusal(ip_address(address)) is not None


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.1.2.3", "192.168.1.9", "8.8.8.8"])
def test_reached_by_default(address: str) -> None:
    assert DEFAULT.address_refusal(ip_address(address)) is None


def test_allow_and_deny_lists_by_network_and_by_name() -> None:
    policy = OutboundPolicy.from_rules(
        allow=["10.0.0.0/8", "models.internal", "*.serving.example"],
        deny=["10.9.0.0/16", "bad.serving.example"],
    )
    assert policy.address_refusal(ip_address("10.1.2.3")) is None
    assert "ABLAB_OUTBOUND_ALLOW" in str(policy.address_refusal(ip_address("192.168.1.1")))
    assert "ABLAB_OUTBOUND_DENY" in str(policy.address_refusal(ip_address("10.9.1.1")))
    # A name that is allowed may resolve outside the allowed networks, but never into a
    # denied one.
    assert policy.address_refusal(ip_address("192.168.1.1"), host="models.internal") is None
    assert policy.address_refusal(ip_address("192.168.1.1"), host="a.serving.example") is None
    assert policy.address_refusal(ip_address("10.9.1.1"), host="models.internal") is not None
    assert policy.host_refusal("bad.serving.example") is not None
    assert policy.host_refusal("BAD.serving.example.") is not None
    assert policy.host_refusal("elsewhere.example") is None  # judged once resolved
    assert DEFAULT.host_refusal("metadata.google.internal") is not None


def test_a_malformed_rule_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="ABLAB_OUTBOUND_DENY: 'not a host!'"):
        OutboundPolicy.from_rules(allow=[], deny=["not a host!"])


def test_numeric_hosts_in_every_form_are_addresses() -> None:
    for form in ("2852039166", "0xa9fea9fe", "0251.0376.0251.0376", "169.254.43518"):
        assert literal_address(form) == ip_address("169.254.169.254")
        with pytest.raises(ValidationError) as caught:
            check_url(DEFAULT, f"http://{form}/latest/meta-data/", "endpoint")
        assert caught.value.details["field"] == "endpoint"
    check_url(DEFAULT, "http://models.internal:8080/predict", "endpoint")  # a name: passes


@pytest.fixture
def receiver() -> Iterator[ModelServer]:
    server = ModelServer("received")
    yield server
    server.stop()


def test_the_connection_checks_where_a_name_really_leads(receiver: ModelServer) -> None:
    by_name = receiver.url.replace("127.0.0.1", "localhost")
    check_url(NO_LOOPBACK, by_name, "endpoint")  # the name alone is not refused...
    with (
        httpx.Client(transport=GuardedTransport(NO_LOOPBACK)) as client,
        pytest.raises(OutboundRefused, match=r"refused to call localhost: 127\.0\.0\.1"),
    ):
        client.post(by_name, json={"features": 1})  # ...where it resolves is
    assert receiver.calls == 0
    with httpx.Client(transport=GuardedTransport(DEFAULT)) as client:
        answered = client.post(by_name, json={"features": 1})
    assert answered.json() == {"prediction": "received"}
    assert receiver.calls == 1


def test_the_alert_webhook_obeys_the_same_policy(
    receiver: ModelServer, caplog: pytest.LogCaptureFixture
) -> None:
    by_name = receiver.url.replace("127.0.0.1", "localhost")
    with caplog.at_level(logging.ERROR, logger="ablab.notify.webhook"):
        WebhookAlerts(by_name, outbound=NO_LOOPBACK, backoff=0.01).send({"alert": "stop"})
    assert receiver.calls == 0
    assert "not called: refused to call localhost" in caplog.text
    WebhookAlerts(by_name, outbound=DEFAULT).send({"alert": "stop"})
    assert receiver.calls == 1


def test_a_pinned_https_request_still_checks_the_certificate_against_the_name(
    tmp_path: Path,
) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    names = ["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"]
    files = ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(["openssl", *request, *names, *files], check=True, capture_output=True)
    server = ModelServer("over-tls")
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    server.server.socket = served.wrap_socket(server.server.socket, server_side=True)
    trusted = ssl.create_default_context(cafile=str(cert))
    url = server.url.replace("http://127.0.0.1", "https://localhost")
    try:
        transport = httpx.HTTPTransport(verify=trusted)
        with httpx.Client(transport=GuardedTransport(DEFAULT, transport)) as client:
            assert client.post(url, json={"features": 1}).json() == {"prediction": "over-tls"}
        # Reached by address, the certificate (made for "localhost") does not match.
        by_address = url.replace("localhost", "127.0.0.1")
        transport = httpx.HTTPTransport(verify=trusted)
        with (
            httpx.Client(transport=GuardedTransport(DEFAULT, transport)) as client,
            pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
        ):
            client.post(by_address, json={"features": 1})
    finally:
        server.stop()


def test_a_refused_webhook_call_fails_at_once_with_the_reason() -> None:
    run = TaskRun("t-1", "task-1", {"answer": "1"}, "1", "exp", None)
    with ExampleApp(secret="a-secret-of-some-length") as app:
        by_name = app.url.replace("127.0.0.1", "localhost")

        async def both() -> tuple[RunOutcome, RunOutcome]:
            async with (
                WebhookRunner(
                    by_name, app.state.secret, transport=GuardedAsyncTransport(NO_LOOPBACK)
                ) as refused,
                WebhookRunner(
                    by_name, app.state.secret, transport=GuardedAsyncTransport(DEFAULT)
                ) as allowed,
            ):
                return await refused.run(run), await allowed.run(run)

        refused, allowed = asyncio.run(both())
    assert refused.error is not None
    assert refused.error.startswith("cannot send: refused to call localhost: 127.0.0.1")
    assert refused.attempts == 1  # a refusal is not retried
    assert (allowed.error, allowed.output) == (None, "1")
    assert len(app.state.received) == 1  # only the allowed one arrived
