// Everything the page draws. No state of the labeling loop lives here, only what is on
// screen: the crop in a fixed-size stage, the word field, flags, counters and notices.

import { createCropViewer } from "../viewer/crop_viewer.js";

const $ = (id) => document.getElementById(id);

const percent = (value) => `${Math.round(value * 100)}%`;
// Characters read with less than this probability get a light mark (under the page's
// threshold, a strong one).
const DOUBT = 0.9;

function listOf(numbers) {
  const words = numbers.map(String);
  if (typeof Intl.ListFormat === "function") {
    return new Intl.ListFormat("en", { type: "conjunction" }).format(words);
  }
  return words.join(", ");
}

export function createView({ threshold }) {
  const el = {
    workspace: document.querySelector(".workspace"),
    stage: $("stage"),
    crop: $("crop"),
    stageMessage: $("stage-message"),
    emptyState: $("empty-state"),
    modeBanner: $("mode-banner"),
    input: $("word-input"),
    error: $("word-error"),
    prefillChars: $("prefill-chars"),
    prefillSpoken: $("prefill-spoken"),
    confidence: $("word-confidence"),
    rotated: $("flag-rotated"),
    nonEnglish: $("flag-non-english"),
    help: $("help"),
    guidelines: $("guidelines"),
    keyTable: $("key-table"),
    announcer: $("announcer"),
    notices: $("notices"),
    count: $("session-count"),
    median: $("session-median"),
    saveStatus: $("save-status"),
  };
  let item = null;
  const viewer = createCropViewer({ stage: el.stage, crop: el.crop });

  function renderPrefill(text, confidences, wordConfidence) {
    const chars = Array.from(text);
    const unsure = [];
    el.prefillChars.replaceChildren(
      ...chars.map((char, index) => {
        const span = document.createElement("span");
        span.textContent = char === " " ? "\u00a0" : char;
        const confidence = confidences[index];
        if (typeof confidence === "number") {
          // What the recognizer says of each character, as it says it: its probability
          // on hover, a strong mark under the threshold, a light one under DOUBT.
          span.title = `“${char}”: ${percent(confidence)} sure`;
          span.dataset.confidence = confidence.toFixed(2);
          if (confidence < threshold) {
            span.className = "low";
            unsure.push(index + 1);
          } else if (confidence < DOUBT) {
            span.className = "doubt";
          }
        }
        return span;
      }),
    );
    if (!chars.length) el.prefillChars.textContent = "(nothing)";
    const spokenWord = text ? `OCR read "${text}"` : "OCR read nothing";
    const spokenUnsure = unsure.length
      ? `Low confidence: character${unsure.length > 1 ? "s" : ""} ${listOf(unsure)}.`
      : "";
    el.prefillSpoken.textContent = `${spokenWord}. ${spokenUnsure}`;
    const known = typeof wordConfidence === "number";
    el.confidence.textContent = known ? percent(wordConfidence) : "unknown";
    el.confidence.classList.toggle("low", known && wordConfidence < threshold);
    const spokenConfidence = known ? `confidence ${percent(wordConfidence)}` : "";
    return [spokenWord, spokenConfidence, spokenUnsure].filter(Boolean).join(", ");
  }

  function setStageState(state) {
    el.stage.dataset.state = state;
    el.crop.hidden = state !== "ready";
    el.stageMessage.hidden = state !== "loading";
    el.emptyState.hidden = state !== "empty";
  }

  const view = {
    input: el.input,

    show(next, { initial }) {
      item = next;
      el.crop.alt = "The word to type";
      el.stage.dataset.taskId = String(item.taskId);
      el.stage.dataset.cropId = String(item.cropId);
      setStageState("ready");
      viewer.show(item);
      el.modeBanner.hidden = item.mode === "task";
      view.setFlags(initial);
      view.clearError();
      el.input.disabled = false;
      el.input.value = initial.text;
      el.input.dataset.initial = initial.text;
      el.input.focus();
      el.input.select();
      const spoken = renderPrefill(item.prefillText, item.charConfidences, item.prefillConfidence);
      view.announce(item.mode === "task" ? spoken : `Correcting your label "${initial.text}".`);
    },

    showLoading(message = "Loading words…") {
      item = null;
      viewer.clear();
      el.stageMessage.textContent = message;
      setStageState("loading");
      el.input.value = "";
      el.input.disabled = true;
    },

    showEmpty() {
      if (el.stage.dataset.state === "empty") return;
      item = null;
      viewer.clear();
      setStageState("empty");
      delete el.stage.dataset.taskId;
      delete el.stage.dataset.cropId;
      el.modeBanner.hidden = true;
      el.input.value = "";
      el.input.dataset.initial = "";
      el.input.disabled = true;
      el.prefillChars.replaceChildren();
      el.prefillSpoken.textContent = "";
      el.confidence.textContent = "–";
      view.announce("The queue is empty. New words will appear here by themselves.");
    },

    layout: () => viewer.layout(),
    viewer,

    flags() {
      return {
        rotated: el.rotated.getAttribute("aria-pressed") === "true",
        nonEnglish: el.nonEnglish.getAttribute("aria-pressed") === "true",
      };
    },

    setFlags({ rotated = false, nonEnglish = false }) {
      el.rotated.setAttribute("aria-pressed", String(Boolean(rotated)));
      el.nonEnglish.setAttribute("aria-pressed", String(Boolean(nonEnglish)));
    },

    toggleFlag(name) {
      const button = name === "rotated" ? el.rotated : el.nonEnglish;
      const on = button.getAttribute("aria-pressed") !== "true";
      button.setAttribute("aria-pressed", String(on));
      view.announce(`${button.firstChild.textContent.trim()} ${on ? "on" : "off"}`);
    },

    showError(message) {
      el.error.textContent = message;
      el.error.hidden = false;
      el.input.setAttribute("aria-invalid", "true");
    },

    clearError() {
      el.error.hidden = true;
      el.error.textContent = "";
      el.input.removeAttribute("aria-invalid");
    },

    renderStats({ labeled, medianMs }) {
      el.count.textContent = `${labeled} labeled`;
      el.median.textContent =
        medianMs == null ? "median –" : `median ${(medianMs / 1000).toFixed(1)} s per label`;
    },

    renderSaveStatus({ waiting, blocked, online }) {
      let state = "saved";
      let text = "All saved";
      if (waiting && (!online || blocked)) {
        state = "offline";
        const where = online ? "Server unreachable" : "Offline";
        text = `${where}: ${waiting} waiting, kept on this device`;
      } else if (waiting) {
        state = "saving";
        text = `Saving ${waiting}…`;
      }
      el.saveStatus.dataset.state = state;
      el.saveStatus.textContent = text;
    },

    notice(message, { kind = "warning", seconds = 12 } = {}) {
      const box = document.createElement("div");
      box.className = `notice notice-${kind}`;
      const text = document.createElement("p");
      text.textContent = message;
      const close = document.createElement("button");
      close.type = "button";
      close.textContent = "Dismiss";
      close.addEventListener("click", () => {
        box.remove();
        el.input.focus();
      });
      box.append(text, close);
      el.notices.append(box);
      while (el.notices.children.length > 3) el.notices.firstElementChild.remove();
      setTimeout(() => box.remove(), seconds * 1000);
    },

    announce(message) {
      // Emptied first so that the same sentence twice is read twice.
      el.announcer.textContent = "";
      requestAnimationFrame(() => {
        el.announcer.textContent = message;
      });
    },

    guidelinesOpen() {
      return !el.guidelines.hidden;
    },

    toggleGuidelines(open = el.guidelines.hidden) {
      if (open && view.helpOpen()) view.toggleHelp(false);
      el.guidelines.hidden = !open;
      el.workspace.inert = open;
      if (open) {
        el.guidelines.querySelector("[role=dialog]").focus();
      } else if (!el.input.disabled) {
        el.input.focus();
      }
    },

    helpOpen() {
      return !el.help.hidden;
    },

    toggleHelp(open = el.help.hidden) {
      el.help.hidden = !open;
      el.workspace.inert = open;
      if (open) {
        el.help.querySelector("[role=dialog]").focus();
      } else if (!el.input.disabled) {
        el.input.focus();
      }
    },
  };
  return view;
}
