"""Schemathesis hooks of the fuzz run: nothing it sends may start a worker or hang.

And one check: valid jobs are accepted unless the fleet of the moment cannot run them.
"""

import re
from typing import Any

import schemathesis
from schemathesis import Case, CheckContext, HookContext, Response

from corral import run_as
from corral.master.api.webhooks import URL_PATTERN

# What a query string's boolean reads as true.
TRUE = {"true", "1", "yes", "on", "t", "y"}
SUBMIT_PATHS = ("/api/v1/jobs", "/api/v1/jobs/batch")


@schemathesis.hook
def before_call(context: HookContext, case: Case[Any], kwargs: dict[str, Any]) -> None:
    """Make the request harmless and finite before it is sent."""
    never_local(case)
    no_follow(case)
    no_wait(case)
    known_users(case)
    loopback_webhooks(case)


def never_local(case: Case[Any]) -> None:
    """Make every worker config the fuzzer writes an SSH one: this master cannot start those.

    A new config without a type (absent or null) is a local one; a change without one
    keeps the type the config has.
    """
    body = case.body
    if not case.path.startswith("/api/v1/worker-configs") or not isinstance(body, dict):
        return
    kind = body.get("deployment_type")
    if kind == "local" or (kind is None and case.method.upper() == "POST"):
        body["deployment_type"] = "ssh"


def loopback_webhooks(case: Case[Any]) -> None:
    """Point every well-formed webhook URL at a loopback port nothing listens on.

    Alerts fire on this master (jobs stay pending with no worker running): their
    deliveries must not leave the machine. Malformed URLs are left, to be refused.
    """
    body = case.body
    if not case.path.startswith("/api/v1/webhooks") or not isinstance(body, dict):
        return
    url = body.get("url")
    if isinstance(url, str) and len(url) <= 2000 and re.fullmatch(URL_PATTERN, url):
        body["url"] = "http://127.0.0.1:9/fuzzed"


def known_users(case: Case[Any]) -> None:
    """Name a user this host has wherever the fuzzer wrote a well-formed one.

    Which users exist is the host's to say, not the document's: a well-formed name the
    host does not know is refused, rightly, and the fuzzer would call that a valid
    request refused. Malformed names are left as they are, to be refused.
    """
    body = case.body
    bodies = body.get("jobs") if isinstance(body, dict) and "jobs" in body else [body]
    for each in bodies if isinstance(bodies, list) else []:
        if not isinstance(each, dict):
            continue
        if _well_formed(each.get("run_as")):
            each["run_as"] = run_as.current_user()
        allowed = each.get("allowed_run_as")
        if isinstance(allowed, list):
            each["allowed_run_as"] = [
                run_as.current_user() if _well_formed(name) else name for name in allowed
            ]


def _well_formed(name: object) -> bool:
    return isinstance(name, str) and re.fullmatch(run_as.PATTERN, name) is not None


def no_follow(case: Case[Any]) -> None:
    """Ask the logs routes for the last lines, never for the stream that follows them.

    With follow=true a job's log streams until the job ends (fuzzed jobs never run
    here) and a worker's until the client leaves.
    """
    query = case.query if isinstance(case.query, dict) else {}
    if str(query.get("follow")).lower() in TRUE:
        case.query = {**query, "follow": "false"}


def no_wait(case: Case[Any]) -> None:
    """Make the wait route answer at once, unless its timeout is the invalid part of the case.

    Fuzzed jobs never finish here: a valid wait would last its whole timeout (30 s by default).
    """
    if not case.path.endswith("/wait"):
        return
    query = case.query if isinstance(case.query, dict) else {}
    value = query.get("timeout_s", 0)
    try:
        timeout = float(value)
    except (TypeError, ValueError):
        return
    if not isinstance(value, bool) and 0 <= timeout <= 60:
        case.query = {**query, "timeout_s": 0}


@schemathesis.check
def valid_jobs_are_accepted(ctx: CheckContext, response: Response, case: Case[Any]) -> None:
    """Positive data acceptance for job submissions, but for the refusals the fleet decides.

    Whether a job fits some configured worker (its CPUs, labels, account) depends on the
    configs of the moment, which no document can say: those refusals are a 422 whose
    every problem is of the kind ``invalid_input``; any other refusal is a failure.
    """
    if case.method.upper() != "POST" or case.path not in SUBMIT_PATHS:
        return
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    if response.status_code in (200, 201):
        return
    body = response.json() if response.status_code == 422 else {}
    kinds = {problem.get("type") for problem in body.get("detail", [])}
    if kinds != {"invalid_input"}:
        raise AssertionError(f"a valid submission was refused: {response.status_code} {body}")
