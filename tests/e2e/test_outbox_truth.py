"""The label page's outbox tells the truth about a save (``frontend/label/outbox.js``).

The outbox and its held-labels list run in Chromium as the page runs them (ES modules
served from ``frontend/label/``), with a scripted ``send`` in place of the network:
transient failures (no connection, 502, 503, 504) wait and retry; any other refusal shows
the server's message and is held for the annotator to retry or discard, never "waiting"
for an answer that will not come.
"""

from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parents[2] / "frontend" / "label"
ORIGIN = "http://outbox.test"

PAGE = """<!doctype html><html><body><p id="save-status">All saved</p>
<script type="module">
import { Outbox, outcomeOf } from "./outbox.js";
import { showHeld } from "./held.js";
window.modules = { Outbox, outcomeOf, showHeld };
document.body.dataset.ready = "1";
</script></body></html>"""

# Runs in the page: an outbox whose send answers from a script per entry; returns what
# the page would show at each step.
SCENARIO = """async () => {
  const { Outbox, showHeld } = window.modules;
  const scripts = {
    flaky: [null, { status: 503, ok: false, data: null },
            { status: 201, ok: true, data: { id: 1 } }],
    broken: [{ status: 500, ok: false, data: { detail: "Database is locked." } },
             { status: 201, ok: true, data: { id: 2 } }],
    signedOut: [{ status: 401, ok: false, data: null }],
    taken: [{ status: 409, ok: false, data: { detail: "Someone else labeled it." } }],
  };
  const sent = { flaky: 0, broken: 0, signedOut: 0, taken: 0 };
  const outbox = new Outbox({
    storageKey: "test.outbox",
    send: async (entry) => {
      const answer = scripts[entry.clientKey][sent[entry.clientKey]++];
      if (answer === null) throw new TypeError("Failed to fetch");
      return answer;
    },
  });
  const events = [];
  for (const type of ["confirmed", "refused", "held"]) {
    outbox.addEventListener(type, ({ detail }) =>
      events.push([type, detail.entry.clientKey, detail.status ?? null, detail.message ?? null]));
  }
  showHeld(outbox, document.getElementById("save-status"));
  const settled = () => new Promise((resolve) => {
    const due = () => outbox.entries.some((e) => !e.held && e.nextAt <= Date.now());
    const check = () => (outbox.inFlight || due() ? setTimeout(check, 10) : resolve());
    check();
  });
  const shown = () =>
    [...document.querySelectorAll(".held-labels li span")].map((s) => s.textContent);
  const steps = {};

  outbox.start();
  outbox.add({ kind: "submit", clientKey: "flaky", word: "TOTAL" });
  await settled();
  steps.afterNoConnection = { size: outbox.size, blocked: outbox.blocked, sent: sent.flaky };
  outbox.retryNow(); await settled();
  steps.after503 = { size: outbox.size, blocked: outbox.blocked, sent: sent.flaky };
  outbox.retryNow(); await settled();
  steps.afterRecovery = { size: outbox.size, blocked: outbox.blocked, sent: sent.flaky };

  for (const key of ["broken", "signedOut", "taken"]) {
    outbox.add({ kind: "submit", clientKey: key, word: key.toUpperCase() });
    await settled();
  }
  outbox.retryNow(); await settled();  // held ones are not sent again by themselves
  steps.held = {
    size: outbox.size, blocked: outbox.blocked, held: outbox.held.map((h) => h.entry.clientKey),
    sent: { ...sent }, shown: shown(),
    buttons: document.querySelectorAll(".held-labels button").length,
    status: document.getElementById("save-status").textContent,
    stored: JSON.parse(localStorage.getItem("test.outbox")).map((e) => e.clientKey),
  };
  document.querySelector('.held-labels li[data-client-key="broken"] button').click();  // Retry
  await settled();
  document.querySelector('.held-labels li[data-client-key="signedOut"] button + button').click();
  await settled();
  steps.end = { size: outbox.size, held: outbox.held.length, shown: shown(),
                listHidden: document.querySelector(".held-labels").hidden, sent: { ...sent } };
  steps.events = events;
  return steps;
}"""


@pytest.fixture
def outbox_page(browser):
    context = browser.new_context()

    def serve(route):
        name = route.request.url.removeprefix(ORIGIN + "/")
        if name in ("", "index.html"):
            route.fulfill(body=PAGE, content_type="text/html")
        elif (FRONTEND / name).is_file() and name.endswith(".js"):
            route.fulfill(path=str(FRONTEND / name), content_type="text/javascript")
        else:
            route.fulfill(status=404, body="")

    context.route(f"{ORIGIN}/**", serve)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{ORIGIN}/index.html")
    page.wait_for_selector("body[data-ready='1']", state="attached", timeout=10_000)
    yield page
    context.close()
    assert not errors, errors


def test_answers_are_sorted_into_wait_refuse_and_hold(outbox_page):
    outcomes = outbox_page.evaluate(
        """() => [null, 201, 502, 503, 504, 400, 404, 409, 422, 401, 403, 429, 500].map(
             (s) => window.modules.outcomeOf(s === null ? null : { status: s, ok: s < 300 }))"""
    )
    assert outcomes == [
        "transient",
        "confirmed",
        *["transient"] * 3,
        *["refused"] * 4,
        *["held"] * 4,
    ]


def test_the_outbox_waits_out_transient_failures_and_holds_the_rest(outbox_page):
    steps = outbox_page.evaluate(SCENARIO)

    # No connection, then a 503: still in the outbox, said to be waiting (blocked).
    assert steps["afterNoConnection"] == {"size": 1, "blocked": True, "sent": 1}
    assert steps["after503"] == {"size": 1, "blocked": True, "sent": 2}
    assert steps["afterRecovery"] == {"size": 0, "blocked": False, "sent": 3}
    # A 500 and a 401 are held with the server's message, kept on the device, not resent;
    # a 409 leaves with its reason.
    held = steps["held"]
    assert held["held"] == ["broken", "signedOut"]
    assert held["size"] == 0
    assert held["blocked"] is False  # nothing is "waiting"
    assert held["sent"] == {"flaky": 3, "broken": 1, "signedOut": 1, "taken": 1}
    assert held["shown"] == [
        "“BROKEN” was not saved: Database is locked. ",
        "“SIGNEDOUT” was not saved: You are signed out or may not label; sign in again,"
        " then retry. ",
    ]
    assert held["buttons"] == 4
    assert held["status"] == "2 not saved: retry or discard below"
    assert held["stored"] == ["broken", "signedOut"]
    # Retry sends the held label again; Discard lets it go as a refusal.
    assert steps["end"] == {
        "size": 0,
        "held": 0,
        "shown": [],
        "listHidden": True,
        "sent": {"flaky": 3, "broken": 2, "signedOut": 1, "taken": 1},
    }
    assert [event[:3] for event in steps["events"]] == [
        ["confirmed", "flaky", None],
        ["held", "broken", 500],
        ["held", "signedOut", 401],
        ["refused", "taken", 409],
        ["confirmed", "broken", None],
        ["refused", "signedOut", 401],
    ]
