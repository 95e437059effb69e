// One crop viewer for the label and review pages: the crop at a legible height, smooth
// by default (a key shows its pixels), zoom in real steps (×1.25), pan by keys and by
// dragging, quarter turns, and the line around the word on demand (each request of the
// line is a read of the page, audited by the server: never fetched unless asked for).

const ZOOM_STEP = 1.25;
const ZOOM_MIN = -6; // steps below the legible fit
const ZOOM_MAX = 12; // ×14.5 above it
const PAN_STEP = 0.15; // of the stage's size per key press

// The viewer's keys, by physical key (event.code), shared by the label and review pages.
export const VIEWER_CODES = {
  Equal: "zoomIn",
  NumpadAdd: "zoomIn",
  Minus: "zoomOut",
  NumpadSubtract: "zoomOut",
  Digit0: "resetView",
  Numpad0: "resetView",
  BracketLeft: "rotateLeft",
  BracketRight: "rotateRight",
  ArrowLeft: "panLeft",
  ArrowRight: "panRight",
  ArrowUp: "panUp",
  ArrowDown: "panDown",
  KeyP: "togglePixels",
  KeyL: "toggleContext",
};

// Runs a viewer action by name; returns what the action returns (a promise for context).
export function runViewerAction(viewer, action) {
  const moves = {
    zoomIn: () => viewer.zoomBy(1),
    zoomOut: () => viewer.zoomBy(-1),
    resetView: () => viewer.reset(),
    rotateLeft: () => viewer.turnBy(-1),
    rotateRight: () => viewer.turnBy(1),
    panLeft: () => viewer.panBy(-1, 0),
    panRight: () => viewer.panBy(1, 0),
    panUp: () => viewer.panBy(0, -1),
    panDown: () => viewer.panBy(0, 1),
    togglePixels: () => viewer.togglePixels(),
    toggleContext: () => viewer.toggleContext(),
  };
  return moves[action] ? moves[action]() : undefined;
}

// The pages' own elements by default: #stage, #crop, #context, #context-image.
export function createCropViewer({
  stage = document.getElementById("stage"),
  crop = document.getElementById("crop"),
  context = document.getElementById("context"),
  contextImage = document.getElementById("context-image"),
  contextUrl = (cropId) => `/api/v1/crops/${cropId}/context`,
} = {}) {
  let item = null; // {objectUrl, width, height, cropId}
  let zoom = 0; // kept across crops: a person who likes it bigger keeps it bigger
  let turn = 0; // quarter turns, reset for each crop
  let panX = 0;
  let panY = 0;
  let pixels = false; // kept across crops
  let contextShown = false; // reset for each crop (least privilege)
  let contextObjectUrl = null;
  let contextFor = null;
  let contextToken = 0;

  function legibleScale() {
    const sideways = turn % 2 === 1;
    const width = sideways ? item.height : item.width;
    const height = sideways ? item.width : item.height;
    const room = 24;
    const fit = Math.min(
      (stage.clientWidth - room) / Math.max(1, width),
      (stage.clientHeight - room) / Math.max(1, height),
    );
    // A word at about half the stage's height is legible at a glance; blowing a 20 px
    // crop up to fill the stage only shows its pixels.
    const legibleHeight = Math.max(72, Math.min(160, stage.clientHeight * 0.35));
    return Math.max(Math.min(fit, legibleHeight / Math.max(1, height)), Math.min(fit, 1));
  }

  function scale() {
    return legibleScale() * ZOOM_STEP ** zoom;
  }

  function clampPan() {
    const factor = scale();
    const sideways = turn % 2 === 1;
    const shownWidth = (sideways ? item.height : item.width) * factor;
    const shownHeight = (sideways ? item.width : item.height) * factor;
    // The crop may move until its edge reaches the stage's middle, no further.
    const limitX = Math.max(0, shownWidth / 2);
    const limitY = Math.max(0, shownHeight / 2);
    panX = Math.max(-limitX, Math.min(limitX, panX));
    panY = Math.max(-limitY, Math.min(limitY, panY));
  }

  function layout() {
    if (!item) return;
    clampPan();
    const factor = scale();
    crop.style.width = `${item.width * factor}px`;
    crop.style.height = `${item.height * factor}px`;
    crop.style.transform =
      `translate(calc(-50% + ${panX}px), calc(-50% + ${panY}px)) rotate(${turn * 90}deg)`;
    crop.classList.toggle("pixels", pixels);
    stage.dataset.scale = factor.toFixed(3);
    stage.dataset.zoom = String(zoom);
    stage.dataset.turn = String(turn * 90);
    stage.dataset.pixels = String(pixels);
    stage.dataset.pan = `${Math.round(panX)},${Math.round(panY)}`;
    stage.classList.toggle("pannable", zoom > 0);
  }

  function hideContext() {
    contextShown = false;
    contextToken += 1;
    if (context) context.hidden = true;
    stage.dataset.context = "off";
  }

  async function showContext() {
    if (!item || !context) return false;
    contextShown = true;
    stage.dataset.context = "loading";
    context.hidden = false;
    const token = ++contextToken;
    if (contextFor !== item.cropId) {
      const response = await fetch(contextUrl(item.cropId), {
        credentials: "same-origin",
        cache: "no-store",
      }).catch(() => null);
      if (token !== contextToken) return false;
      if (!response || !response.ok) {
        stage.dataset.context = "failed";
        context.dataset.state = "failed";
        return false;
      }
      const blob = await response.blob();
      if (token !== contextToken) return false;
      if (contextObjectUrl) URL.revokeObjectURL(contextObjectUrl);
      contextObjectUrl = URL.createObjectURL(blob);
      contextFor = item.cropId;
    }
    contextImage.src = contextObjectUrl;
    context.dataset.state = "ready";
    stage.dataset.context = "on";
    return true;
  }

  // Drag to pan (mouse, pen or touch); a click without moving does nothing, and the
  // word field keeps the focus.
  stage.addEventListener("mousedown", (event) => event.preventDefault());
  let drag = null;
  stage.addEventListener("pointerdown", (event) => {
    if (!item || event.button !== 0) return;
    drag = { x: event.clientX, y: event.clientY, panX, panY };
    stage.setPointerCapture(event.pointerId);
    stage.classList.add("dragging");
  });
  stage.addEventListener("pointermove", (event) => {
    if (!drag) return;
    panX = drag.panX + (event.clientX - drag.x);
    panY = drag.panY + (event.clientY - drag.y);
    layout();
  });
  const endDrag = () => {
    drag = null;
    stage.classList.remove("dragging");
  };
  stage.addEventListener("pointerup", endDrag);
  stage.addEventListener("pointercancel", endDrag);
  stage.addEventListener(
    "wheel",
    (event) => {
      if (!item || !(event.ctrlKey || event.altKey)) return; // plain wheel scrolls the page
      event.preventDefault();
      viewer.zoomBy(event.deltaY < 0 ? 1 : -1);
    },
    { passive: false },
  );

  const viewer = {
    show(next) {
      item = next;
      turn = 0;
      panX = 0;
      panY = 0;
      hideContext();
      crop.src = item.objectUrl;
      layout();
    },
    clear() {
      item = null;
      hideContext();
    },
    layout,
    zoomBy(steps) {
      if (!item) return;
      zoom = Math.max(ZOOM_MIN, Math.min(ZOOM_MAX, zoom + steps));
      layout();
    },
    panBy(dx, dy) {
      if (!item) return;
      panX -= dx * stage.clientWidth * PAN_STEP;
      panY -= dy * stage.clientHeight * PAN_STEP;
      layout();
    },
    turnBy(quarters) {
      if (!item) return;
      turn = (turn + quarters + 4) % 4;
      layout();
    },
    reset() {
      zoom = 0;
      turn = 0;
      panX = 0;
      panY = 0;
      layout();
    },
    togglePixels() {
      pixels = !pixels;
      layout();
      return pixels;
    },
    async toggleContext() {
      if (contextShown) {
        hideContext();
        return false;
      }
      return showContext();
    },
    get contextShown() {
      return contextShown;
    },
  };
  return viewer;
}
