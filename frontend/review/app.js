// The reviewer's workspace: one crop waiting for review at a time, its candidate labels,
// and a key for every decision (see quality/api.py). Plain keys work outside the fix
// field; inside it only Enter, Esc and Alt combinations do something.

import { createApi, errorMessage } from "../label/api.js";
import { createCropViewer, runViewerAction, VIEWER_CODES } from "../viewer/crop_viewer.js";

const POLL_MS = 10000;
const BAD_KEYS = { KeyX: "not_a_word", KeyT: "two_words", KeyC: "cut_off" };

const root = document.getElementById("review-app");
const api = createApi({ base: root.dataset.apiBase, csrfToken: root.dataset.csrfToken });
const $ = (id) => document.getElementById(id);
const el = {
  stage: $("stage"),
  crop: $("crop"),
  message: $("stage-message"),
  empty: $("empty-state"),
  reason: $("reason"),
  prefill: $("prefill"),
  candidates: $("candidates"),
  fix: $("fix-input"),
  fixButton: $("fix-button"),
  error: $("error"),
  rotated: $("flag-rotated"),
  nonEnglish: $("flag-non-english"),
  unreadable: $("unreadable-button"),
  gold: $("gold-toggle"),
  count: $("decided-count"),
  announcer: $("announcer"),
};

const viewer = createCropViewer({ stage: el.stage, crop: el.crop });
window.addEventListener("resize", () => viewer.layout());

let item = null;
let busy = false;
let decided = 0;
let pollTimer = null;
let imageUrl = null;

function announce(text) {
  el.announcer.textContent = text;
}

function pressed(button) {
  return button.getAttribute("aria-pressed") === "true";
}

function toggle(button, value) {
  const next = value === undefined ? !pressed(button) : value;
  button.setAttribute("aria-pressed", String(next));
  return next;
}

function showError(text) {
  el.error.textContent = text;
  el.error.hidden = !text;
}

function candidateLine(candidate) {
  const flags = [];
  if (candidate.rotated) flags.push("rotated");
  if (candidate.non_english) flags.push("not English");
  if (candidate.unreadable) flags.push("unreadable");
  if (candidate.low_reliability) flags.push("from a flagged annotator");
  const mark = { two_words: "two words", cut_off: "cut off", not_a_word: "not a word" };
  const text = candidate.bad_reason
    ? `(bad crop: ${mark[candidate.bad_reason]})`
    : candidate.unreadable
      ? "(unreadable)"
      : candidate.text;
  const votes = `${candidate.votes} vote${candidate.votes === 1 ? "" : "s"}`;
  return { text, detail: [votes, ...flags].join(", ") };
}

function render() {
  el.candidates.replaceChildren(
    ...item.candidates.map((candidate, index) => {
      const li = document.createElement("li");
      li.className = "candidate";
      li.dataset.labelId = String(candidate.label_id);
      const key = document.createElement("kbd");
      key.textContent = String(index + 1);
      const word = document.createElement("span");
      word.className = "candidate-text";
      const { text, detail } = candidateLine(candidate);
      word.textContent = text;
      const small = document.createElement("small");
      small.textContent = ` (${detail})`;
      li.append(key, " ", word, small);
      li.addEventListener("click", () => accept(index));
      return li;
    }),
  );
  el.reason.textContent = item.reason_text ? `Why: ${item.reason_text}` : "";
  el.prefill.textContent = item.prefill_text || "(nothing)";
  el.fix.value = item.candidates.length ? item.candidates[0].text : "";
  el.fix.disabled = false;
  el.fixButton.disabled = false;
  toggle(el.rotated, false);
  toggle(el.nonEnglish, false);
  toggle(el.gold, false);
  showError("");
  el.stage.dataset.state = "ready";
  el.empty.hidden = true;
  el.message.hidden = true;
  announce(`${item.candidates.length} candidates. ${item.reason_text}`);
}

function showEmpty() {
  item = null;
  viewer.clear();
  el.crop.hidden = true;
  el.candidates.replaceChildren();
  el.reason.textContent = "";
  el.prefill.textContent = "";
  el.fix.value = "";
  el.fix.disabled = true;
  el.fixButton.disabled = true;
  el.stage.dataset.state = "empty";
  el.message.hidden = true;
  el.empty.hidden = false;
  clearTimeout(pollTimer);
  pollTimer = setTimeout(next, POLL_MS);
}

async function next() {
  clearTimeout(pollTimer);
  el.stage.dataset.state = "loading";
  let response;
  try {
    response = await api.post("review/next/");
  } catch {
    showError("No connection; trying again in a moment.");
    pollTimer = setTimeout(next, POLL_MS);
    return;
  }
  if (response.status === 204) return showEmpty();
  if (!response.ok) {
    showError(errorMessage(response.data, "Could not load the next item."));
    return;
  }
  item = response.data;
  const image = await api.loadImage(item.image_url);
  if (imageUrl) URL.revokeObjectURL(imageUrl);
  imageUrl = image ? image.objectUrl : null;
  el.crop.hidden = !image;
  render();
  if (image) {
    el.crop.alt = "The word crop under review";
    viewer.show({ ...image, cropId: item.crop_id });
  }
  document.activeElement?.blur?.();
}

async function decide(body, spoken) {
  if (!item || busy) return;
  busy = true;
  try {
    const response = await api.post(`review/${item.crop_id}/decide/`, {
      ...body,
      gold: body.decision === "bad" ? false : pressed(el.gold),
    });
    if (!response.ok) {
      showError(errorMessage(response.data, "The decision was not saved."));
      if (response.status === 404 || response.status === 409) await next();
      return;
    }
    decided += 1;
    el.count.textContent = `${decided} decided`;
    announce(spoken);
    await next();
  } catch {
    showError("No connection: the decision was not saved. Try again.");
  } finally {
    busy = false;
  }
}

function accept(index) {
  const candidate = item?.candidates[index];
  if (!candidate) return;
  if (candidate.bad_reason) return bad(candidate.bad_reason); // agree with the mark
  decide({ decision: "accept", label_id: candidate.label_id }, `Accepted ${candidate.text}`);
}

function fix({ unreadable = false } = {}) {
  const text = el.fix.value.trim();
  if (!text && !unreadable) {
    showError("Type the word, or mark it unreadable.");
    return;
  }
  decide(
    {
      decision: "fix",
      text: unreadable ? "" : text,
      rotated: pressed(el.rotated),
      non_english: pressed(el.nonEnglish),
      unreadable,
    },
    unreadable ? "Saved as unreadable" : `Fixed as ${text}`,
  );
}

function bad(reason) {
  decide({ decision: "bad", reason }, "Marked the crop bad");
}

document.addEventListener("keydown", (event) => {
  if (event.isComposing || event.ctrlKey || event.metaKey) return;
  const inText = document.activeElement === el.fix;
  // The viewer's keys: with Alt anywhere, plain outside the fix field.
  const view = VIEWER_CODES[event.code];
  if (view && item && (event.altKey || !inText) && !(view === "toggleContext" && inText)) {
    event.preventDefault();
    Promise.resolve(runViewerAction(viewer, view)).then((on) => {
      if (view === "toggleContext") announce(on ? "Showing the line" : "Line hidden");
    });
    return;
  }
  if (event.altKey) {
    const action = { KeyR: el.rotated, KeyN: el.nonEnglish }[event.code];
    if (action) {
      event.preventDefault();
      toggle(action);
    } else if (event.code === "KeyU") {
      event.preventDefault();
      fix({ unreadable: true });
    }
    return;
  }
  if (inText) {
    if (event.key === "Enter") {
      event.preventDefault();
      fix();
    } else if (event.key === "Escape") {
      event.preventDefault();
      el.fix.blur();
    }
    return;
  }
  if (/^[1-9]$/.test(event.key)) {
    event.preventDefault();
    accept(Number(event.key) - 1);
  } else if (event.code === "KeyF" || event.code === "KeyE") {
    event.preventDefault();
    el.fix.focus();
    el.fix.select();
  } else if (BAD_KEYS[event.code]) {
    event.preventDefault();
    bad(BAD_KEYS[event.code]);
  } else if (event.code === "KeyG") {
    event.preventDefault();
    announce(toggle(el.gold) ? "Will become a gold item" : "Not a gold item");
  }
});

el.fixButton.addEventListener("click", () => fix());
el.rotated.addEventListener("click", () => toggle(el.rotated));
el.nonEnglish.addEventListener("click", () => toggle(el.nonEnglish));
el.unreadable.addEventListener("click", () => fix({ unreadable: true }));
el.gold.addEventListener("click", () => toggle(el.gold));
for (const button of document.querySelectorAll("[data-reason]")) {
  button.addEventListener("click", () => bad(button.dataset.reason));
}

next();
