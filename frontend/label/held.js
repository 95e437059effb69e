// Labels the server refused with an answer that needs the annotator (signed out, a server
// error...): each shown under the save status with the server's message, to retry or to
// discard, and the status line counts them. The outbox keeps them (on this device) until
// one or the other.

export function showHeld(outbox, anchor) {
  const list = document.createElement("ul");
  list.className = "held-labels";
  list.setAttribute("role", "alert");
  list.hidden = true;
  anchor.after(list);

  function button(text, onClick) {
    const element = document.createElement("button");
    element.type = "button";
    element.textContent = text;
    element.addEventListener("click", onClick);
    return element;
  }

  function render() {
    const held = outbox.held;
    list.replaceChildren(
      ...held.map(({ entry, message }) => {
        const item = document.createElement("li");
        item.dataset.clientKey = entry.clientKey;
        const text = document.createElement("span");
        const what = entry.word ? `“${entry.word}”` : "A label";
        text.textContent = `${what} was not saved: ${message} `;
        item.append(
          text,
          button("Retry", () => outbox.retry(entry.clientKey)),
          button("Discard", () => outbox.discard(entry.clientKey)),
        );
        return item;
      }),
    );
    list.hidden = held.length === 0;
    if (held.length) {
      // After the status line's own rendering (same "change" event, registered earlier):
      // "All saved" must not stand above labels that were not.
      const saving = outbox.size ? `; saving ${outbox.size}…` : "";
      anchor.dataset.state = "held";
      anchor.textContent = `${held.length} not saved: retry or discard below${saving}`;
    }
  }

  outbox.addEventListener("change", render);
  render();
  return { render };
}
