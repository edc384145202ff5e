"""Rate limits per client address: the token bucket on a fake clock, and the web app's 429s."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from interpreter.testing.fakes import FakeClock
from web.app import WebConfig, build_app
from web.ratelimit import RateLimit, RateLimiter, client_address

Client = TestClient[web.Request, web.Application]

KEY = "APItestkey"
SECRET = "s" * 40
JOIN = {"room": "standup", "name": "Ana", "language": "es", "role": "listener"}


def test_a_burst_goes_through_then_requests_wait_for_the_refill() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit(per_minute=60, burst=3), clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a") == pytest.approx(1.0)  # one a second refills
    clock.advance(0.5)
    assert limiter.acquire("a") == pytest.approx(0.5)
    clock.advance(0.5)
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") > 0


def test_clients_have_buckets_of_their_own() -> None:
    limiter = RateLimiter(RateLimit(per_minute=60, burst=1), clock=FakeClock())
    assert limiter.acquire("10.0.0.1") == 0.0
    assert limiter.acquire("10.0.0.1") > 0
    assert limiter.acquire("10.0.0.2") == 0.0


def test_a_refused_request_takes_nothing_and_the_bucket_never_overfills() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit(per_minute=120), clock=clock)  # burst: a minute's worth
    for _ in range(120):
        assert limiter.acquire("a") == 0.0
    for _ in range(50):  # hammering while empty does not push the wait further out
        assert limiter.acquire("a") == pytest.approx(0.5)
    clock.advance(3600)
    assert sum(limiter.acquire("a") == 0.0 for _ in range(200)) == 120


def test_zero_means_no_limit() -> None:
    limiter = RateLimiter(RateLimit(per_minute=0), clock=FakeClock())
    assert all(limiter.acquire("a") == 0.0 for _ in range(10_000))
    assert len(limiter) == 0


def test_memory_stays_bounded_under_many_addresses() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit(per_minute=60, burst=2), clock=clock, max_clients=100)
    for i in range(1000):
        limiter.acquire(f"10.0.{i // 250}.{i % 250}")
        clock.advance(0.01)
    assert len(limiter) <= 100
    # a client that is being limited right now keeps its empty bucket over idle ones
    limiter.acquire("busy")
    limiter.acquire("busy")
    assert limiter.acquire("busy") > 0
    for i in range(60):
        limiter.acquire(f"new-{i}")
    assert limiter.acquire("busy") > 0


@pytest.fixture
async def limited() -> AsyncIterator[tuple[Client, FakeClock]]:
    clock = FakeClock()
    config = WebConfig(
        ws_url="ws://127.0.0.1:7880",
        api_key=KEY,
        api_secret=SECRET,
        token_rate_limit=3,
        booth_rate_limit=2,
    )
    async with TestClient(TestServer(build_app(config, rate_clock=clock))) as client:
        yield client, clock


async def test_the_token_endpoint_answers_429_with_retry_after(
    limited: tuple[Client, FakeClock],
) -> None:
    client, clock = limited
    for _ in range(3):
        assert (await client.post("/api/token", json=JOIN)).status == 200
    refused = await client.post("/api/token", json=JOIN)
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "20"  # 3 a minute: one every 20 s
    body = await refused.json()
    assert body["error"] == "rate_limited" and body["retry_after"] == 20
    assert "try again" in body["message"]
    # other endpoints are not counted, and time heals
    assert (await client.get("/api/languages")).status == 200
    clock.advance(20)
    assert (await client.post("/api/token", json=JOIN)).status == 200


async def test_booth_endpoints_share_a_limit_of_their_own(
    limited: tuple[Client, FakeClock],
) -> None:
    client, _ = limited
    # without a booth store these routes are not mounted (404): the limit is counted first
    statuses = [
        (await client.get("/api/rooms/standup/booth")).status,
        (await client.post("/api/rooms/standup/interpreters", json={})).status,
        (await client.get("/api/rooms/standup/access")).status,
    ]
    assert statuses == [404, 404, 429]
    assert (await client.post("/api/token", json=JOIN)).status == 200


def test_the_address_behind_a_proxy_is_the_last_forwarded_one() -> None:
    from aiohttp.test_utils import make_mocked_request

    request = make_mocked_request(
        "POST", "/api/token", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.9"}
    )
    assert client_address(request, trust_forwarded=True) == "203.0.113.9"
    assert client_address(request, trust_forwarded=False) != "203.0.113.9"
