// Every action has a key. Letters are taken with Alt so they never collide with typing
// a word; Alt combinations are matched on the physical key (event.code) because on a
// Mac Alt+letter yields another character (Alt+R is "®"). The help overlay is drawn
// from this same table, so what it says is what the keys do.

import { VIEWER_CODES } from "../viewer/crop_viewer.js";

export const BINDINGS = [
  { action: "submit", keys: ["Enter"], what: "Save the word and show the next one" },
  { action: "toggleRotated", keys: ["Alt+R"], what: "Flag: the word is rotated" },
  { action: "toggleNonEnglish", keys: ["Alt+N"], what: "Flag: not English" },
  {
    action: "unreadable",
    keys: ["Alt+U"],
    what: "Unreadable or no text: saves at once with empty text",
  },
  { action: "markTwoWords", keys: ["Alt+T"], what: "Bad crop: two words or more (saves at once)" },
  { action: "markCutOff", keys: ["Alt+C"], what: "Bad crop: the word is cut off (saves at once)" },
  { action: "markNotAWord", keys: ["Alt+X"], what: "Bad crop: not a word at all (saves at once)" },
  { action: "skip", keys: ["Alt+S"], what: "Skip: someone else will label it" },
  {
    action: "undo",
    keys: ["Alt+Z", "Ctrl+Z"],
    what: "Undo the last save and label that word again (Ctrl+Z only while the text is untouched)",
  },
  {
    action: "toggleContext",
    keys: ["Alt+L"],
    what: "Show or hide the line around the word (the page's strip, word outlined)",
  },
  { action: "guidelines", keys: ["Alt+G"], what: "Guidelines: how to type case, punctuation, spaces; when to flag" },
  { action: "zoomIn", keys: ["Alt+="], what: "Zoom in (×1.25; Ctrl+wheel too)" },
  { action: "zoomOut", keys: ["Alt+-"], what: "Zoom out" },
  { action: "panLeft", keys: ["Alt+←", "Alt+→", "Alt+↑", "Alt+↓"], what: "Move the zoomed crop (or drag it)" },
  { action: "resetView", keys: ["Alt+0"], what: "Fit the crop again, upright" },
  { action: "togglePixels", keys: ["Alt+P"], what: "Show the crop's pixels (or smooth again)" },
  { action: "rotateLeft", keys: ["Alt+["], what: "Turn the view 90° left" },
  { action: "rotateRight", keys: ["Alt+]"], what: "Turn the view 90° right" },
  {
    action: "help",
    keys: ["Alt+/", "F1", "?"],
    what: "Show or hide these keys (plain ? only outside the text field)",
  },
  { action: "close", keys: ["Esc"], what: "Close this help or the guidelines" },
];

const ALT_CODES = {
  ...VIEWER_CODES,
  KeyR: "toggleRotated",
  KeyN: "toggleNonEnglish",
  KeyU: "unreadable",
  KeyT: "markTwoWords",
  KeyC: "markCutOff",
  KeyX: "markNotAWord",
  KeyS: "skip",
  KeyZ: "undo",
  KeyG: "guidelines",
  Slash: "help",
};

// The action a key press asks for, or null. `inText`: the word field has focus;
// `textUntouched`: its value is still what the page put there.
export function actionFor(event, { inText, textUntouched }) {
  if (event.isComposing || event.keyCode === 229) return null; // an IME is composing
  if (event.altKey && !event.ctrlKey && !event.metaKey) return ALT_CODES[event.code] || null;
  if (event.ctrlKey || event.metaKey) {
    const undo = event.code === "KeyZ" && !event.shiftKey && !event.altKey;
    return undo && (!inText || textUntouched) ? "undo" : null;
  }
  if (event.key === "F1") return "help";
  if (event.key === "Escape") return "close";
  if (event.key === "?" && !inText) return "help";
  if (event.key === "Enter" && inText) return "submit";
  return null;
}

export function installKeyboard({ input, handlers }) {
  document.addEventListener("keydown", (event) => {
    const action = actionFor(event, {
      inText: document.activeElement === input,
      textUntouched: input.value === (input.dataset.initial ?? ""),
    });
    if (!action || !handlers[action]) return;
    event.preventDefault();
    handlers[action]();
  });
}

export function renderKeyTable(tbody) {
  tbody.replaceChildren(
    ...BINDINGS.map(({ keys, what }) => {
      const row = document.createElement("tr");
      const keyCell = document.createElement("th");
      keyCell.scope = "row";
      keys.forEach((key, index) => {
        if (index) keyCell.append(" or ");
        const kbd = document.createElement("kbd");
        kbd.textContent = key;
        keyCell.append(kbd);
      });
      const whatCell = document.createElement("td");
      whatCell.textContent = what;
      row.append(keyCell, whatCell);
      return row;
    }),
  );
}
