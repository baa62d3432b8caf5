"""The link checker connects to the address it validated (no DNS rebinding).

No real network: socket.getaddrinfo is faked and the inner httpx transport
(httpx.HTTPTransport.handle_request, which the pinned transport calls via
super()) is replaced by a recorder, so the target of each connection is observed
directly. One test goes through real httpcore to the loopback link server.
"""

import socket

import httpx
import pytest

from knowledge_base.services import link_checks
from knowledge_base.services.link_checks import (
    BlockedAddress,
    LinkCheckConfig,
    PinnedAddressTransport,
    check_urls,
)
from knowledge_base.tests.link_server import link_server_fixture  # noqa: F401

PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:4700::1111"


def _info(address: str, port: int = 443):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
    return (family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)


class FakeResolver:
    """Answers per host from a list of successive answers (the last one repeats)."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def __call__(self, host, port, *args, **kwargs):
        self.calls.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        seen = self.calls.count(host)
        choices = self.answers[host]
        return [_info(a, port or 443) for a in choices[min(seen, len(choices)) - 1]]


@pytest.fixture
def inner(monkeypatch):
    """Replace the real connection with a recorder; `responses` is consumed in order (default 200)."""
    sent: list[httpx.Request] = []
    responses: list[httpx.Response] = []

    def handle_request(self, request):
        sent.append(request)
        return responses.pop(0) if responses else httpx.Response(200)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", handle_request)
    return sent, responses


def resolver(monkeypatch, answers):
    fake = FakeResolver(answers)
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


def test_connects_to_the_validated_ip_even_if_a_second_lookup_is_private(monkeypatch, inner):
    sent, _ = inner
    fake = resolver(monkeypatch, {"docs.example.com": [[PUBLIC_V4], ["127.0.0.1"]]})
    with httpx.Client(transport=PinnedAddressTransport()) as client:
        response = client.get("https://docs.example.com/dosage?x=1")
    assert response.status_code == 200
    # Resolved once; the rebinding answer (127.0.0.1) is never used.
    assert fake.calls == ["docs.example.com"]
    [request] = sent
    assert request.url.host == PUBLIC_V4
    assert str(request.url) == f"https://{PUBLIC_V4}/dosage?x=1"
    assert request.headers["Host"] == "docs.example.com"
    assert request.extensions["sni_hostname"] == "docs.example.com"
    # The client still sees the name, not the IP.
    assert response.request.url.host == "docs.example.com"


def test_check_urls_pins_when_private_addresses_are_not_allowed(monkeypatch, inner):
    sent, _ = inner
    resolver(monkeypatch, {"docs.example.com": [[PUBLIC_V4], ["127.0.0.1"]]})
    config = LinkCheckConfig.from_settings(
        timeout=1, concurrency=1, host_interval=0, retries=0, backoff=0, allow_private=False
    )
    results = check_urls(["https://docs.example.com/a"], config=config)
    assert results["https://docs.example.com/a"].ok
    assert [r.url.host for r in sent] == [PUBLIC_V4]
    assert sent[0].headers["Host"] == "docs.example.com"


@pytest.mark.parametrize(
    "addresses",
    [["127.0.0.1"], ["10.1.2.3"], ["169.254.169.254"], ["::1"], ["fe80::1"], [PUBLIC_V4, "192.168.0.10"]],
)
def test_any_non_public_answer_is_blocked_before_connecting(monkeypatch, inner, addresses):
    sent, _ = inner
    resolver(monkeypatch, {"evil.example": [addresses]})
    with httpx.Client(transport=PinnedAddressTransport()) as client, pytest.raises(BlockedAddress):
        client.get("http://evil.example/")
    assert sent == []


def test_blocked_link_is_skipped_by_the_checker(monkeypatch, inner):
    sent, _ = inner
    resolver(monkeypatch, {"evil.example": [["10.0.0.7"]]})
    config = LinkCheckConfig.from_settings(
        timeout=1, concurrency=1, host_interval=0, retries=0, backoff=0, allow_private=False
    )
    result = check_urls(["http://evil.example/"], config=config)["http://evil.example/"]
    assert result.skipped
    assert "10.0.0.7" in result.error
    assert sent == []


def test_unresolvable_host_is_a_connection_error(monkeypatch, inner):
    sent, _ = inner
    resolver(monkeypatch, {})
    with httpx.Client(transport=PinnedAddressTransport()) as client, pytest.raises(httpx.ConnectError):
        client.get("https://nowhere.example/")
    assert sent == []


def test_every_redirect_hop_is_resolved_and_validated(monkeypatch, inner):
    sent, responses = inner
    fake = resolver(monkeypatch, {"docs.example.com": [[PUBLIC_V4]], "internal.example": [["10.0.0.5"]]})
    responses.append(httpx.Response(302, headers={"Location": "http://internal.example/admin"}))
    config = LinkCheckConfig.from_settings(
        timeout=1, concurrency=1, host_interval=0, retries=0, backoff=0, allow_private=False
    )
    result = check_urls(["https://docs.example.com/go"], config=config)["https://docs.example.com/go"]
    assert result.skipped
    assert fake.calls == ["docs.example.com", "internal.example"]
    assert [r.url.host for r in sent] == [PUBLIC_V4]


def test_redirect_hop_that_rebinds_to_a_private_address_is_refused(monkeypatch, inner):
    sent, responses = inner
    fake = resolver(monkeypatch, {"docs.example.com": [[PUBLIC_V4], ["127.0.0.1"]]})
    responses.append(httpx.Response(301, headers={"Location": "/new"}))
    with (
        httpx.Client(transport=PinnedAddressTransport(), follow_redirects=True) as client,
        pytest.raises(BlockedAddress),
    ):
        client.get("https://docs.example.com/old")
    # The second hop resolved again, got the rebinding answer and never connected.
    assert fake.calls == ["docs.example.com", "docs.example.com"]
    assert [r.url.host for r in sent] == [PUBLIC_V4]


def test_relative_redirect_connects_to_the_validated_ip_with_the_original_host(monkeypatch, inner):
    sent, responses = inner
    resolver(monkeypatch, {"docs.example.com": [[PUBLIC_V4]]})
    responses.append(httpx.Response(301, headers={"Location": "/new"}))
    with httpx.Client(transport=PinnedAddressTransport(), follow_redirects=True) as client:
        response = client.get("https://docs.example.com/old")
    assert response.status_code == 200
    assert [str(r.url) for r in sent] == [f"https://{PUBLIC_V4}/old", f"https://{PUBLIC_V4}/new"]
    assert [r.headers["Host"] for r in sent] == ["docs.example.com", "docs.example.com"]
    assert [r.extensions["sni_hostname"] for r in sent] == ["docs.example.com", "docs.example.com"]


def test_ipv6_address_is_bracketed_and_port_kept_in_host_header(monkeypatch, inner):
    sent, _ = inner
    resolver(monkeypatch, {"docs.example.com": [[PUBLIC_V6]]})
    with httpx.Client(transport=PinnedAddressTransport()) as client:
        client.get("https://docs.example.com:8443/a")
    [request] = sent
    assert str(request.url) == f"https://[{PUBLIC_V6}]:8443/a"
    assert request.headers["Host"] == "docs.example.com:8443"
    assert request.extensions["sni_hostname"] == "docs.example.com"


def test_pinned_request_reaches_a_real_server_by_ip(monkeypatch, link_server):
    """Through real httpcore: the URL names a host that does not exist; the pinned IP is used."""
    monkeypatch.setattr(link_checks, "_resolve_public_address", lambda request: "127.0.0.1")
    port = link_server.server_address[1]
    with httpx.Client(transport=PinnedAddressTransport()) as client:
        response = client.get(f"http://kb-links.invalid:{port}/ok")
    assert response.status_code == 200
    assert link_server.hits("/ok") == 1


def test_tls_is_started_for_the_original_name_on_the_pinned_ip(monkeypatch):
    """Through real httpcore with a fake network: TCP goes to the IP, SNI and
    certificate verification use the name (the `sni_hostname` extension)."""
    import httpcore

    seen: dict[str, object] = {}

    class Stream(httpcore.NetworkStream):
        def start_tls(self, ssl_context, server_hostname=None, timeout=None):
            seen["server_hostname"] = server_hostname
            seen["check_hostname"] = ssl_context.check_hostname
            raise httpcore.ConnectError("stop here")

        def close(self):
            pass

    class Backend(httpcore.NetworkBackend):
        def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
            seen["tcp"] = (host, port)
            return Stream()

    resolver(monkeypatch, {"docs.example.com": [[PUBLIC_V4], ["127.0.0.1"]]})
    transport = PinnedAddressTransport()
    transport._pool._network_backend = Backend()
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.ConnectError):
        client.get("https://docs.example.com/a")
    assert seen == {"tcp": (PUBLIC_V4, 443), "server_hostname": "docs.example.com", "check_hostname": True}
