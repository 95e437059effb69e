// Labels on their way to the server. Every entry is written to localStorage before it is
// sent, sent one at a time in the order made (so labels land in the order they were
// typed), and retried with backoff until the server confirms it or refuses it for good.
// Resending is safe: submissions and corrections carry a client_key the server
// deduplicates on, and a skip is idempotent.

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
// Answers that will not change however often we ask again.
const REFUSED = new Set([400, 404, 409, 422]);

export class Outbox extends EventTarget {
  constructor({ storageKey, send }) {
    super();
    this.storageKey = storageKey;
    this.send = send;
    this.entries = this.#load();
    this.inFlight = null; // {entry, done: Promise}
    this.timer = null;
    this.blocked = false; // the last attempt failed: offline, server down, signed out
    this.warnedSignedOut = false;
  }

  start() {
    window.addEventListener("online", () => this.retryNow());
    this.#changed();
    this.#drain();
  }

  get size() {
    return this.entries.length;
  }

  taskIds() {
    return new Set(this.entries.map((entry) => entry.taskId).filter((id) => id != null));
  }

  add(entry) {
    this.entries.push({ ...entry, attempts: 0, nextAt: 0 });
    this.#save();
    this.#changed();
    this.#drain();
  }

  retryNow() {
    for (const entry of this.entries) entry.nextAt = 0;
    this.#drain();
  }

  // Takes an entry back before it is sent (undo). If it is being sent right now, waits
  // for that attempt: resolves to the entry when it was still unsent, else to null.
  async withdraw(clientKey) {
    if (this.inFlight && this.inFlight.entry.clientKey === clientKey) {
      await this.inFlight.done;
    }
    const index = this.entries.findIndex((entry) => entry.clientKey === clientKey);
    if (index < 0) return null;
    const [entry] = this.entries.splice(index, 1);
    this.#save();
    this.#changed();
    return entry;
  }

  #load() {
    try {
      const stored = JSON.parse(localStorage.getItem(this.storageKey) || "[]");
      return Array.isArray(stored) ? stored.map((entry) => ({ ...entry, nextAt: 0 })) : [];
    } catch {
      return [];
    }
  }

  #save() {
    try {
      localStorage.setItem(this.storageKey, JSON.stringify(this.entries));
    } catch {
      this.#emit("storage-failed", {});
    }
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  #changed() {
    this.#emit("change", { size: this.entries.length, blocked: this.blocked });
  }

  #schedule(at) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.#drain(), Math.max(0, at - Date.now()));
  }

  async #drain() {
    if (this.inFlight) return;
    const entry = this.entries[0];
    if (!entry) {
      this.blocked = false;
      this.#changed();
      return;
    }
    if (entry.nextAt > Date.now()) {
      this.#schedule(entry.nextAt);
      return;
    }
    let finish;
    this.inFlight = { entry, done: new Promise((resolve) => (finish = resolve)) };
    let answer = null;
    try {
      answer = await this.send(entry);
    } catch {
      answer = null; // network down or offline
    }
    this.#settle(entry, answer);
    this.inFlight = null;
    finish();
    this.#drain();
  }

  #settle(entry, answer) {
    const stillQueued = this.entries.includes(entry);
    if (answer && answer.ok) {
      this.#remove(entry);
      this.blocked = false;
      this.#emit("confirmed", { entry, data: answer.data });
    } else if (answer && REFUSED.has(answer.status)) {
      this.#remove(entry);
      this.blocked = false;
      this.#emit("refused", { entry, status: answer.status, data: answer.data });
    } else if (stillQueued) {
      entry.attempts += 1;
      entry.nextAt = Date.now() + BACKOFF_MS[Math.min(entry.attempts, BACKOFF_MS.length) - 1];
      this.blocked = true;
      this.#save();
      const signedOut = answer && (answer.status === 401 || answer.status === 403);
      if (signedOut && !this.warnedSignedOut) this.#emit("unauthorized", { entry });
      this.warnedSignedOut = Boolean(signedOut);
    }
    this.#changed();
  }

  #remove(entry) {
    const index = this.entries.indexOf(entry);
    if (index >= 0) this.entries.splice(index, 1);
    this.#save();
  }
}
