"""The OpenAPI document says what the routes do: their answers, their shapes, their limits."""

from typing import Any
from unittest.mock import ANY

import pytest

from inprocess_master import InProcessMaster


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The document a master serves."""
    with InProcessMaster(tmp_path_factory.mktemp("openapi")) as master:
        r = master.api.get(master.url + "/openapi.json")
    assert r.status_code == 200
    doc: dict[str, Any] = r.json()
    return doc


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    resolved: dict[str, Any] = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return resolved


def _answers(doc: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    responses: dict[str, Any] = doc["paths"]["/api/v1" + path][method]["responses"]
    return responses


# What any route that needs a token may answer: refused, cross-origin, too many failures.
REFUSED = {"401", "403", "429"}


@pytest.mark.parametrize(
    "method, path, statuses",
    [
        ("post", "/jobs", REFUSED | {"200", "201", "400", "413", "422", "503"}),
        ("post", "/jobs/batch", REFUSED | {"201", "400", "413", "422", "503"}),
        ("get", "/jobs", REFUSED | {"200", "422", "503"}),
        ("get", "/jobs/{job_id}", REFUSED | {"200", "404", "422", "503"}),
        ("post", "/jobs/{job_id}/cancel", REFUSED | {"200", "404", "409", "422", "503"}),
        ("post", "/jobs/{job_id}/retry", REFUSED | {"200", "404", "409", "422", "503"}),
        (
            "post",
            "/worker-configs",
            REFUSED | {"201", "400", "409", "413", "422", "503"},
        ),
        ("get", "/worker-configs", REFUSED | {"200"}),
        (
            "delete",
            "/worker-configs/{worker_id}",
            REFUSED | {"204", "404", "409", "422", "503"},
        ),
        ("post", "/workers/{worker_id}/start", REFUSED | {"200", "404", "409", "422"}),
        (
            "post",
            "/workers/{worker_id}/stop",
            REFUSED | {"200", "400", "404", "409", "413", "422"},
        ),
        ("get", "/workers/{worker_id}/health", REFUSED | {"200", "404", "422", "503"}),
        ("post", "/agent/heartbeat", REFUSED | {"200", "404", "409", "413", "422"}),
    ],
)
def test_routes_declare_the_answers_they_give(
    document: dict[str, Any], method: str, path: str, statuses: set[str]
) -> None:
    assert set(_answers(document, method, path)) == statuses


def test_errors_have_one_documented_shape(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    error, invalid = schemas["ErrorOut"], schemas["InvalidOut"]
    assert error["required"] == invalid["required"] == ["detail", "code"]
    assert error["properties"]["detail"]["type"] == "string"
    assert "stale_instance" in error["properties"]["code"]["enum"]
    assert invalid["properties"]["detail"]["type"] == "array"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if status.startswith(("4", "5")) and not path.endswith("/health"):
                    schema = answer["content"]["application/json"]["schema"]["$ref"]
                    expected = "InvalidOut" if status == "422" else "ErrorOut"
                    assert schema.endswith("/" + expected), (method, path, status)


def test_every_refusal_has_that_shape(master: InProcessMaster) -> None:
    master.create_worker("w1", auto_start=False, cpus=2)
    invalid = [
        master.api.post("/jobs", json={"command": ["true"], "cpus": 3}),  # a refusal of the fleet
        master.api.get("/workers/w1/logs", params={"stream": "stdin"}),
        master.api.post("/jobs", json={"command": [""]}),
        master.api.post("/jobs", content=b"{", headers={"content-type": "application/json"}),
    ]
    for r in invalid:
        assert r.status_code == 422, r.text
        body = r.json()
        assert set(body) == {"detail", "code"} and body["code"] == "invalid", body
        for problem in body["detail"]:
            assert set(problem) == {"loc", "msg", "type"}, problem
    others = {
        404: master.api.get("/jobs/7"),
        405: master.api.put("/jobs"),
        409: master.api.post("/worker-configs", json={"worker_id": "w1"}),
    }
    for status, r in others.items():
        assert r.status_code == status, r.text
        body = r.json()
        assert set(body) == {"detail", "code"} and isinstance(body["detail"], str), body


def test_a_405_names_every_method_of_its_path(master: InProcessMaster) -> None:
    r = master.api.put("/jobs")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, POST"
    r = master.api.get("/jobs/batch")
    assert r.status_code == 405 and r.headers["allow"] == "POST"


def test_a_command_must_name_its_program(document: dict[str, Any]) -> None:
    job = document["components"]["schemas"]["JobSubmit"]
    command = job["properties"]["command"]
    assert command["minItems"] == 1
    assert command["prefixItems"][0]["minLength"] == 1
    assert "minLength" not in command["items"]  # later arguments may be empty
    # With shell: true, command is the one string /bin/sh -c runs.
    assert job["if"]["properties"]["shell"] == {"const": True}
    assert job["then"]["properties"]["command"]["maxItems"] == 1


def test_strings_say_they_hold_no_nul(document: dict[str, Any]) -> None:
    job = document["components"]["schemas"]["JobSubmit"]["properties"]
    assert job["command"]["items"]["pattern"] == "^[^\\x00]*$"
    env = job["env"]
    assert env["additionalProperties"] is False  # names outside the pattern are refused
    (value,) = env["patternProperties"].values()
    assert value["pattern"] == "^[^\\x00]*$"


@pytest.mark.parametrize("path", ["/jobs/{job_id}/logs", "/workers/{worker_id}/logs"])
def test_logs_routes_declare_their_event_stream(document: dict[str, Any], path: str) -> None:
    content = _answers(document, "get", path)["200"]["content"]
    assert set(content) == {"application/json", "text/event-stream"}
    logs = _resolve(document, content["application/json"]["schema"])
    assert set(logs["required"]) >= {"stream", "lines"}


def test_following_a_finished_jobs_log_is_an_event_stream(master: InProcessMaster) -> None:
    job = master.api.post("/jobs", json={"command": ["true"]}).json()
    assert master.api.post(f"/jobs/{job['id']}/cancel").status_code == 200
    r = master.api.get(f"/jobs/{job['id']}/logs", params={"follow": "true"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert "event: end" in r.text


def test_the_document_says_how_each_route_authenticates(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["admin"] == {"type": "http", "scheme": "bearer", "description": ANY}
    assert schemes["session"] == {"type": "apiKey", "in": "cookie", "name": "corral_session"}
    assert document["security"] == [{"admin": []}, {"session": []}]
    assert document["paths"]["/api/v1/agent/heartbeat"]["post"]["security"] == [{"worker": []}]
    assert "security" not in document["paths"]["/api/v1/jobs"]["post"]
    assert "401" in document["paths"]["/api/v1/health"]["get"]["responses"]
