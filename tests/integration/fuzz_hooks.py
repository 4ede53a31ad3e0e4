"""Schemathesis hooks of the fuzz run: nothing it sends may start a worker or hang.

And one check: valid jobs are accepted unless the fleet of the moment cannot run them.
"""

import os
import re
from typing import Any

import schemathesis
from schemathesis import Case, CheckContext, HookContext, Response

from corral import run_as
from corral.master.api.webhooks import URL_PATTERN
from corral.store.history import FLEET_SERIES, WORKER_SERIES

DEPLOYMENT_TYPES = ("local", "ssh", "docker", "kubernetes")
HOST_CPUS = sorted(os.sched_getaffinity(0))
# What a query string's boolean reads as true.
TRUE = {"true", "1", "yes", "on", "t", "y"}
SUBMIT_PATHS = ("/api/v1/jobs", "/api/v1/jobs/batch")


@schemathesis.hook
def before_call(context: HookContext, case: Case[Any], kwargs: dict[str, Any]) -> None:
    """Make the request harmless and finite before it is sent."""
    never_starting(case)
    no_follow(case)
    no_wait(case)
    known_users(case)
    series_of_one_kind(case)
    loopback_webhooks(case)


def never_starting(case: Case[Any]) -> None:
    """Make every worker config the fuzzer writes one this host can hold, never started.

    Which launchers exist and how many CPUs there are is the host's to say, not the
    document's: a well-formed type becomes local, a well-formed CPU count or set the host
    lacks becomes one it has. Malformed values are left as they are, to be refused.
    Auto-start and auto-restart are off, and a worker started by hand exits at once
    (CORRAL_TEST_WORKERS_EXIT in the master's environment).
    """
    body: Any = case.body
    if not case.path.startswith("/api/v1/worker-configs") or not isinstance(body, dict):
        return
    if body.get("deployment_type") in DEPLOYMENT_TYPES:
        body["deployment_type"] = "local"
    cpus = body.get("cpus")
    if isinstance(cpus, int | float) and _count(cpus) and cpus > len(HOST_CPUS):
        body["cpus"] = len(HOST_CPUS)
    ids = body.get("cpu_ids")
    if isinstance(ids, list) and ids and all(_count(i) for i in ids) and len(set(ids)) == len(ids):
        body["cpu_ids"] = sorted({HOST_CPUS[int(i) % len(HOST_CPUS)] for i in ids})
    # A new config left without a switch (absent or null) would have it on.
    new = case.method.upper() == "POST"
    for switch in ("auto_start", "auto_restart"):
        if isinstance(body.get(switch), bool) or (new and body.get(switch) is None):
            body[switch] = False


def _count(value: object) -> bool:
    """Whether a value is a JSON integer the schema allows for a CPU number or count.

    JSON Schema counts 3.0 as an integer, and so does the API.
    """
    whole = type(value) is int or (type(value) is float and value.is_integer())
    return whole and 0 <= value <= 4096  # type: ignore[operator]


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


def series_of_one_kind(case: Case[Any]) -> None:
    """Ask the history route for worker series only, when the case asks for any.

    Worker and fleet series cannot be mixed in one answer, a rule between two
    parameters that OpenAPI cannot state: the fuzzer would call its refusal a valid
    request refused. Fleet names become a worker one, keeping the list's length, so a
    list too long or a name misspelt is still refused.
    """
    query = case.query if isinstance(case.query, dict) else {}
    if not case.path.endswith("/metrics/history") or "series" not in query:
        return
    names = query["series"] if isinstance(query["series"], list) else [query["series"]]
    if query.get("worker") is None and all(n in FLEET_SERIES for n in names):
        return
    fleet_only = [n for n in FLEET_SERIES if n not in WORKER_SERIES]
    case.query = {**query, "series": [WORKER_SERIES[0] if n in fleet_only else n for n in names]}


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
