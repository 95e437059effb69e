// The annotator workspace: wires the API client, the outbox, the prefetch buffer, the
// keys and the view into one loop. State lives here; drawing lives in view.js.

import { createApi, errorMessage } from "./api.js";
import { TaskBuffer } from "./buffer.js";
import { installKeyboard, renderKeyTable } from "./keyboard.js";
import { showHeld } from "./held.js";
import { Outbox } from "./outbox.js";
import { SessionStats } from "./stats.js";
import { createView } from "./view.js";

const root = document.getElementById("label-app");
const leaseMs = Number(root.dataset.leaseSeconds) * 1000;
const RENEW_WITHIN_MS = Math.min(60_000, leaseMs / 2);
const RENEW_CHECK_MS = Math.min(15_000, leaseMs / 4);
const EMPTY_POLL_MS = 10_000;
const RETRY_LEASE_MS = 3_000;
const HISTORY_MAX = 20;

// crypto.randomUUID exists only in secure contexts; getRandomValues everywhere.
function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  const parts = [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20)];
  return [...parts, hex.slice(20)].join("-");
}

const api = createApi({ base: root.dataset.apiBase, csrfToken: root.dataset.csrfToken });
const view = createView({ threshold: Number(root.dataset.lowConfidenceThreshold) });
const stats = new SessionStats({ storageKey: `dropturk.session.${root.dataset.userKey}` });
const outbox = new Outbox({
  storageKey: `dropturk.outbox.${root.dataset.userKey}`,
  send: (entry) => api.post(entry.path, entry.body),
});

let current = null; // the item on screen
let shownAt = 0;
const handled = new Set(); // task ids submitted or skipped on this page
const history = []; // submissions, newest last: {item, body, clientKey, labelId}
const revisited = new Set(); // label ids already offered for correction
let undoing = false;
let pollTimer = null;

function heldOutsideBuffer() {
  let held = current && current.mode === "task" ? 1 : 0;
  for (const entry of outbox.entries) if (entry.kind !== "revise") held += 1;
  return held;
}

const buffer = new TaskBuffer({
  api,
  leaseMs,
  isKnown: (taskId) =>
    (current && current.taskId === taskId) ||
    handled.has(taskId) ||
    outbox.taskIds().has(taskId),
  heldElsewhere: heldOutsideBuffer,
});

function present(item, initial) {
  current = item;
  current.initial = initial;
  if (item.mode === "revise") revisited.add(item.reviseLabelId);
  shownAt = performance.now();
  view.show(item, { initial });
}

function freshStart(item) {
  return { text: item.prefillText, rotated: false, nonEnglish: false };
}

// Puts the next buffered word on screen, or says why there is none.
function fillIdle() {
  if (current) return;
  const next = buffer.take();
  if (next) {
    present(next, freshStart(next));
  } else if (buffer.exhausted) {
    view.showEmpty();
    schedulePoll();
  } else {
    // take() has started a lease; a failed one is retried by the poll.
    view.showLoading();
  }
}

function schedulePoll(delay = EMPTY_POLL_MS) {
  if (pollTimer) return;
  pollTimer = setTimeout(() => {
    pollTimer = null;
    buffer.refill({ force: true });
  }, delay);
}

function rememberSubmission(entry) {
  history.push(entry);
  while (history.length > HISTORY_MAX) {
    const old = history.shift();
    if (old.item !== current && !buffer.has(old.item.taskId)) {
      URL.revokeObjectURL(old.item.objectUrl);
    }
  }
}

const MARK_WORDS = { two_words: "two words", cut_off: "cut off", not_a_word: "not a word" };

// badReason: the crop is bad (two words, cut off, not a word): a mark instead of a text.
function submit({ unreadable = false, badReason = "" } = {}) {
  if (!current) return;
  const text = unreadable || badReason ? "" : view.input.value.trim();
  if (!text && !unreadable && !badReason) {
    view.showError("Type the word, or press Alt+U if there is nothing to read.");
    return;
  }
  const item = current;
  const flags = badReason ? { rotated: false, nonEnglish: false } : view.flags();
  const clientKey = uuid();
  const body = {
    text,
    rotated: flags.rotated,
    non_english: flags.nonEnglish,
    unreadable,
    bad_reason: badReason,
    elapsed_ms: Math.round(performance.now() - shownAt),
    client_key: clientKey,
  };
  const revising = item.mode === "revise";
  outbox.add({
    kind: revising ? "revise" : "submit",
    path: revising ? api.revisePath(item.reviseLabelId) : api.submitPath(item.taskId),
    body,
    clientKey,
    taskId: item.taskId,
    word: badReason ? `(${MARK_WORDS[badReason]})` : unreadable ? "(unreadable)" : text,
  });
  handled.add(item.taskId);
  rememberSubmission({ item, body, clientKey, labelId: null });
  // A correction after an undo counts again what the undo took back.
  stats.record(clientKey, { counts: !revising || Boolean(item.undone), elapsedMs: body.elapsed_ms });
  renderStats();
  current = null;
  fillIdle();
}

function skip() {
  if (!current) return;
  const item = current;
  current = null;
  if (item.mode === "revise") {
    // Skipping a correction keeps the label as it was.
    if (item.undone) {
      history.push(item.undone);
      stats.record(item.undone.clientKey, item.undone.stats);
      renderStats();
    }
    view.announce("Kept your label as it was.");
  } else {
    handled.add(item.taskId);
    const path = api.skipPath(item.taskId);
    outbox.add({ kind: "skip", path, clientKey: uuid(), taskId: item.taskId });
    URL.revokeObjectURL(item.objectUrl);
    view.announce("Skipped.");
  }
  fillIdle();
}

// The newest label of mine not yet offered for correction, when the page has no
// history of its own (after a reload).
async function lastLabelFromServer() {
  let answer;
  try {
    answer = await api.labelsMine(HISTORY_MAX);
  } catch {
    return null;
  }
  if (!answer.ok) return null;
  const label = answer.data.labels.find((candidate) => !revisited.has(candidate.id));
  if (!label) return null;
  const image = await api.loadImage(label.image_url).catch(() => null);
  if (!image) return null;
  return {
    item: {
      mode: "revise",
      reviseLabelId: label.id,
      taskId: label.task_id,
      cropId: label.crop_id,
      imageUrl: label.image_url,
      objectUrl: image.objectUrl,
      width: image.width,
      height: image.height,
      prefillText: "",
      prefillConfidence: null,
      charConfidences: [],
    },
    initial: { text: label.text, rotated: label.rotated, nonEnglish: label.non_english },
  };
}

async function undo() {
  if (undoing) return;
  undoing = true;
  try {
    let target = null;
    while (!target && history.length) {
      const entry = history.pop();
      const initial = {
        text: entry.body.text,
        rotated: entry.body.rotated,
        nonEnglish: entry.body.non_english,
      };
      const withdrawn = await outbox.withdraw(entry.clientKey);
      if (withdrawn) {
        // It never reached the server: label the same task (or correction) again.
        target = { item: { ...entry.item }, initial };
      } else if (entry.labelId) {
        const item = { ...entry.item, mode: "revise", reviseLabelId: entry.labelId, undone: entry };
        target = { item, initial };
      }
      entry.stats = stats.entries.get(entry.clientKey);
      stats.forget(entry.clientKey);
    }
    target = target || (await lastLabelFromServer());
    if (!target) {
      view.notice("Nothing to undo.", { kind: "info", seconds: 4 });
      return;
    }
    if (current) buffer.putBack(current);
    renderStats();
    present(target.item, target.initial);
  } finally {
    undoing = false;
  }
}

async function renewSoon() {
  const now = Date.now();
  const expiring = [current, ...buffer.ready].filter(
    (item) => item && item.mode === "task" && item.deadline - now < RENEW_WITHIN_MS,
  );
  for (const item of expiring) {
    let answer;
    try {
      answer = await api.renew(item.taskId);
    } catch {
      return; // offline; the next check tries again
    }
    if (answer.ok) {
      item.deadline = Date.now() + leaseMs;
    } else if (answer.status === 409 || answer.status === 404) {
      leaseLost(item);
    }
  }
}

function leaseLost(item) {
  handled.add(item.taskId);
  if (item === current) {
    current = null;
    view.notice("This word was given to someone else while it waited; here is the next one.");
    fillIdle();
  } else {
    buffer.drop(item.taskId);
  }
}

function renderStats() {
  view.renderStats({ labeled: stats.labeled, medianMs: stats.medianMs });
}

let savingHeldBack = false;
function renderSaveStatus() {
  const state = { waiting: outbox.size, blocked: outbox.blocked, online: navigator.onLine };
  view.renderSaveStatus(state);
  // The status line changes on every save; a screen reader hears only when that stalls.
  const heldBack = Boolean(state.waiting && (state.blocked || !state.online));
  if (heldBack !== savingHeldBack) {
    view.announce(
      heldBack
        ? "Cannot reach the server. Your labels are kept on this device and sent later."
        : "All labels saved.",
    );
    savingHeldBack = heldBack;
  }
}

outbox.addEventListener("change", renderSaveStatus);
outbox.addEventListener("confirmed", ({ detail }) => {
  const entry = history.find((candidate) => candidate.clientKey === detail.entry.clientKey);
  if (entry && detail.data) {
    entry.labelId = detail.data.id;
    revisited.add(detail.data.id);
  }
});
outbox.addEventListener("refused", ({ detail }) => {
  const { entry, status, data } = detail;
  if (entry.kind === "skip") return; // the task is gone anyway
  const index = history.findIndex((candidate) => candidate.clientKey === entry.clientKey);
  if (index >= 0) history.splice(index, 1);
  stats.forget(entry.clientKey);
  renderStats();
  const reason =
    status === 409
      ? errorMessage(data, "Someone else labeled this word first.")
      : errorMessage(data, `The server refused it (${status}).`);
  view.notice(`“${entry.word}” was not saved: ${reason}`);
});
outbox.addEventListener("unauthorized", () => {
  view.notice("You are signed out. Sign in again in another tab; your labels wait here.", {
    seconds: 30,
  });
});
outbox.addEventListener("storage-failed", () => {
  view.notice("This browser will not keep unsent labels; do not close the tab while offline.");
});

buffer.addEventListener("change", () => {
  if (!current) fillIdle();
});
buffer.addEventListener("renewed", ({ detail }) => {
  if (current && current.taskId === detail.taskId) current.deadline = detail.deadline;
});
buffer.addEventListener("failed", ({ detail }) => {
  if (detail.status === 401 || detail.status === 403) {
    view.notice("You are signed out or may not label; sign in again.", { seconds: 30 });
  }
  if (!current) {
    view.showLoading(
      navigator.onLine
        ? "Cannot reach the server; trying again…"
        : "Offline; waiting for the connection…",
    );
    schedulePoll(RETRY_LEASE_MS);
  }
});

window.addEventListener("online", () => {
  renderSaveStatus();
  if (!current) buffer.refill({ force: true });
});
window.addEventListener("offline", renderSaveStatus);
window.addEventListener("resize", () => view.layout());
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") renewSoon();
});

const whileHelpClosed = (action) => () => {
  if (!view.helpOpen() && !view.guidelinesOpen()) return action();
  return undefined;
};
const actions = {
  submit: whileHelpClosed(() => submit()),
  unreadable: whileHelpClosed(() => submit({ unreadable: true })),
  markTwoWords: whileHelpClosed(() => submit({ badReason: "two_words" })),
  markCutOff: whileHelpClosed(() => submit({ badReason: "cut_off" })),
  markNotAWord: whileHelpClosed(() => submit({ badReason: "not_a_word" })),
  toggleRotated: whileHelpClosed(() => current && view.toggleFlag("rotated")),
  toggleNonEnglish: whileHelpClosed(() => current && view.toggleFlag("nonEnglish")),
  skip: whileHelpClosed(skip),
  undo: whileHelpClosed(undo),
  zoomIn: whileHelpClosed(() => view.viewer.zoomBy(1)),
  zoomOut: whileHelpClosed(() => view.viewer.zoomBy(-1)),
  resetView: whileHelpClosed(() => view.viewer.reset()),
  rotateLeft: whileHelpClosed(() => view.viewer.turnBy(-1)),
  rotateRight: whileHelpClosed(() => view.viewer.turnBy(1)),
  panLeft: whileHelpClosed(() => view.viewer.panBy(-1, 0)),
  panRight: whileHelpClosed(() => view.viewer.panBy(1, 0)),
  panUp: whileHelpClosed(() => view.viewer.panBy(0, -1)),
  panDown: whileHelpClosed(() => view.viewer.panBy(0, 1)),
  togglePixels: whileHelpClosed(() => {
    const on = view.viewer.togglePixels();
    view.announce(on ? "Showing the crop's pixels" : "Smooth view");
  }),
  toggleContext: whileHelpClosed(async () => {
    if (!current) return;
    const on = await view.viewer.toggleContext();
    view.announce(on ? "Showing the line around the word" : "Line hidden");
  }),
  guidelines: () => view.toggleGuidelines(),
  help: () => view.toggleHelp(),
  close: () => {
    if (view.guidelinesOpen()) view.toggleGuidelines(false);
    else if (view.helpOpen()) view.toggleHelp(false);
  },
};
installKeyboard({ input: view.input, handlers: actions });
view.input.addEventListener("input", () => view.clearError());

const buttons = {
  "submit-button": "submit",
  "flag-rotated": "toggleRotated",
  "flag-non-english": "toggleNonEnglish",
  "unreadable-button": "unreadable",
  "mark-two-words": "markTwoWords",
  "mark-cut-off": "markCutOff",
  "mark-not-a-word": "markNotAWord",
  "skip-button": "skip",
  "undo-button": "undo",
  "zoom-in": "zoomIn",
  "zoom-out": "zoomOut",
  "rotate-left": "rotateLeft",
  "rotate-right": "rotateRight",
  "pixels-button": "togglePixels",
  "context-button": "toggleContext",
  "guidelines-button": "guidelines",
  "guidelines-close": "close",
  "help-button": "help",
  "help-close": "close",
};
for (const [id, action] of Object.entries(buttons)) {
  document.getElementById(id).addEventListener("click", async () => {
    await actions[action]();
    if (!view.helpOpen() && !view.guidelinesOpen() && !view.input.disabled) view.input.focus();
  });
}
document.getElementById("help").addEventListener("click", (event) => {
  if (event.target.id === "help") view.toggleHelp(false); // a click beside the dialog
});
document.getElementById("guidelines").addEventListener("click", (event) => {
  if (event.target.id === "guidelines") view.toggleGuidelines(false);
});

renderKeyTable(document.getElementById("key-table"));
renderStats();
showHeld(outbox, document.getElementById("save-status"));
outbox.start();
view.showLoading();
buffer.refill({ force: true });
setInterval(renewSoon, RENEW_CHECK_MS);
root.dataset.ready = "true";
