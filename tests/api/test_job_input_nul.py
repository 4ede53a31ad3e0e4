"""NUL characters in a job are refused: no argv, env or path can carry one."""

from inprocess_master import InProcessMaster


def test_a_nul_byte_in_a_job_is_refused(master: InProcessMaster) -> None:
    # No argv, env value or cwd can carry NUL to exec(); PostgreSQL's JSONB refuses it,
    # which fails the whole group commit (every change batched with it is lost).
    for body in (
        {"command": ["echo", "a\x00b"]},
        {"command": ["true"], "env": {"A": "x\x00"}},
        {"command": ["true"], "cwd": "/tmp\x00"},
    ):
        r = master.api.post("/jobs", json=body)
        assert r.status_code == 422, (body, r.status_code, r.text)
