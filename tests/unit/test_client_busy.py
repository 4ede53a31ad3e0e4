"""The client sends a request again after a 503, as the master asks, within its patience."""

import httpx
import pytest

from corral.client import ApiError, Client


def client_of(answers: list[httpx.Response], busy_s: float) -> tuple[Client, list[str]]:
    """A client whose master answers ``answers`` in turn; the paths it asked for."""
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return answers.pop(0)

    client = Client(url="http://master.invalid", token="t", busy_s=busy_s)
    client._http = httpx.Client(
        base_url="http://master.invalid/api/v1", transport=httpx.MockTransport(answer)
    )
    return client, asked


def busy() -> httpx.Response:
    return httpx.Response(503, headers={"Retry-After": "0.1"}, json={"detail": "database away"})


def test_a_503_is_sent_again_until_it_goes_through() -> None:
    done = httpx.Response(200, json={"status": "ok"})
    client, asked = client_of([busy(), busy(), done], busy_s=5)
    assert client.request("GET", "/health") == {"status": "ok"}
    assert asked == ["/api/v1/health"] * 3


def test_past_its_patience_the_503_is_the_answer() -> None:
    client, asked = client_of([busy() for _ in range(10)], busy_s=0.25)
    with pytest.raises(ApiError) as refused:
        client.request("POST", "/jobs", json={"command": ["true"]})
    assert refused.value.status == 503 and "database away" in str(refused.value)
    assert 2 <= len(asked) <= 4
