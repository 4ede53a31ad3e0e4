"""Markup in names, labels, commands and output is shown as text and runs nothing."""

import pytest
from playwright.sync_api import Page, expect

from browser import Watch
from master_process import MasterProcess

pytestmark = pytest.mark.xdist_group("dashboard-xss")
# Each sets the flag if it ever runs; the policy would also stop inline handlers, so the
# tests check the markup never became elements at all.
IMG = "<img src=x onerror=\"window.__xss='img'\">"
SCRIPT = "<script>window.__xss='script'</script>"
PAYLOAD = IMG + SCRIPT


@pytest.fixture(scope="module")
def job_id(master: MasterProcess) -> int:
    """A worker named, labelled and logging markup, and a job whose command and output are."""
    master.create_worker("evil", name=PAYLOAD, labels={"note": PAYLOAD})
    master.wait_state("evil", "running")
    program = "import sys; p = sys.argv[1]; print(p); print(p, p, sep='\\n', file=sys.stderr)"
    command = ["python3", "-c", program, PAYLOAD]
    r = master.api.post("/jobs", json={"command": command, "labels": {"note": PAYLOAD}})
    assert r.status_code == 201, r.text
    done = master.api.get(f"/jobs/{r.json()['id']}/wait", params={"timeout_s": 30}).json()
    assert done["state"] == "succeeded", done
    return int(done["id"])


def ran_nothing(page: Page, watch: Watch) -> None:
    """No payload became an element, set the flag, or opened a dialog."""
    assert page.evaluate("window.__xss") is None
    assert page.locator("main img, main script").count() == 0
    watch.assert_clean()


@pytest.mark.parametrize("path", ["/workers", "/workers/evil", "/workers/evil/edit"])
def test_a_workers_name_and_labels(watched: tuple[Page, Watch], job_id: int, path: str) -> None:
    page, watch = watched
    page.goto(path)
    if path.endswith("/edit"):
        expect(page.locator("input[name=name]")).to_have_value(PAYLOAD)
        expect(page.locator("textarea[name=labels]")).to_have_value(f"note={PAYLOAD}\n")
    else:
        expect(page.get_by_text(PAYLOAD, exact=True).first).to_be_visible()
        expect(page.get_by_text(f"note={PAYLOAD}", exact=True).first).to_be_visible()
    ran_nothing(page, watch)


def test_a_jobs_command_and_labels_in_the_list(watched: tuple[Page, Watch], job_id: int) -> None:
    page, watch = watched
    page.goto("/jobs")
    row = page.locator(f"tr[data-job='{job_id}']")
    expect(row.locator("code.cmd")).to_contain_text(PAYLOAD)
    expect(row.locator(".label")).to_have_text(f"note={PAYLOAD}")
    ran_nothing(page, watch)


def test_a_jobs_command_and_output(watched: tuple[Page, Watch], job_id: int) -> None:
    page, watch = watched
    page.goto(f"/jobs/{job_id}")
    expect(page.locator("#job-command")).to_contain_text(PAYLOAD)
    lines = page.locator(".logview .lines")
    expect(lines.locator("span.stdout")).to_have_text([PAYLOAD + "\n"])
    expect(lines.locator("span.stderr")).to_have_text([PAYLOAD + "\n"] * 2)
    ran_nothing(page, watch)
