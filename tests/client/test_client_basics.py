"""The client's parts that need no master: configuration, token handling, parsing."""

from pathlib import Path

import pytest

import corral
from corral.client import ApiError, Client, Job, MasterUnreachableError
from corral.client.api import default_data_dir
from corral.client.errors import format_detail
from corral.client.sse import events
from master_process import refusing_port


def test_url_and_token_come_from_arguments_then_environment_then_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "admin.token").write_text("from-file\n")
    monkeypatch.delenv("CORRAL_URL", raising=False)
    monkeypatch.delenv("CORRAL_TOKEN", raising=False)
    monkeypatch.setenv("CORRAL_DATA_DIR", str(tmp_path))
    with Client() as client:
        assert client.url == "http://127.0.0.1:8700"
        assert client._http.headers["authorization"] == "Bearer from-file"
    monkeypatch.setenv("CORRAL_URL", "http://example.test:1/")
    monkeypatch.setenv("CORRAL_TOKEN", "from-env")
    with Client() as client:
        assert client.url == "http://example.test:1"
        assert client._http.headers["authorization"] == "Bearer from-env"
    with Client("http://h:2/api/v1", token="from-arg") as client:
        assert client.url == "http://h:2"
        assert client._http.headers["authorization"] == "Bearer from-arg"


def test_without_a_data_dir_the_nearest_corral_folder_up_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".corral").mkdir()
    (tmp_path / ".corral" / "admin.token").write_text("found-up\n")
    deep = tmp_path / "project" / "src"
    deep.mkdir(parents=True)
    assert default_data_dir(deep) == tmp_path.resolve() / ".corral"
    assert default_data_dir(tmp_path.parent) == Path(".corral")
    monkeypatch.delenv("CORRAL_TOKEN", raising=False)
    monkeypatch.delenv("CORRAL_DATA_DIR", raising=False)
    monkeypatch.chdir(deep)
    with Client() as client:
        assert client._http.headers["authorization"] == "Bearer found-up"


def test_no_token_when_none_is_given_or_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CORRAL_TOKEN", raising=False)
    with Client(data_dir=tmp_path / "missing") as client:
        assert "authorization" not in client._http.headers


def test_the_token_never_shows_in_repr() -> None:
    with Client("http://127.0.0.1:1", token="s3cret-value") as client:
        assert "s3cret-value" not in repr(client)


def test_client_is_exported_lazily_from_the_package() -> None:
    assert corral.Client is Client
    with pytest.raises(AttributeError):
        _ = corral.NoSuchThing


def test_a_closed_port_is_reported_as_unreachable() -> None:
    with (
        refusing_port() as port,
        Client(f"http://127.0.0.1:{port}", token="t") as client,
        pytest.raises(MasterUnreachableError, match="cannot reach the master"),
    ):
        client.get(1)


def test_a_shell_string_needs_shell_true() -> None:
    with Client("http://127.0.0.1:1") as client, pytest.raises(TypeError, match="shell=True"):
        client.submit("echo hi")


def test_validation_details_read_as_one_line() -> None:
    detail = [
        {"loc": ["body", "cpus"], "msg": "Input should be greater than 0", "type": "x"},
        {"loc": ["body"], "msg": "Field required", "type": "y"},
    ]
    assert format_detail(detail) == "cpus: Input should be greater than 0; Field required"
    assert str(ApiError(404, "job 9 not found")) == "404: job 9 not found"


def test_server_sent_events_are_split_into_event_and_data() -> None:
    stream = [
        "data: first line",
        "",
        ": keepalive",
        "",
        "data:  two spaces",
        "",
        "data: a",
        "data: b",
        "",
        "event: end",
        'data: {"id": 1}',
        "",
    ]
    assert list(events(stream)) == [
        ("message", "first line"),
        ("message", " two spaces"),
        ("message", "a\nb"),
        ("end", '{"id": 1}'),
    ]


def test_jobs_round_trip_through_json() -> None:
    body = {
        "id": 3,
        "state": "running",
        "command": ["sleep", "1"],
        "started_at": "2025-01-02T03:04:05.123456+00:00",
        "added_by_a_newer_master": True,
    }
    job = Job.from_json(body)
    assert job.started_at is not None and job.started_at.microsecond == 123456
    assert not job.finished
    out = job.to_json()
    assert out["started_at"] == body["started_at"] and "added_by_a_newer_master" not in out
