// Labels on their way to the server. Every entry is written to localStorage before it is
// sent, sent one at a time in the order made (so labels land in the order they were
// typed). Resending is safe: submissions and corrections carry a client_key the server
// deduplicates on, and a skip is idempotent.
//
// What an answer means, and what the page says about it:
// - confirmed (2xx): gone from the outbox ("confirmed").
// - transient (no connection, 502, 503, 504: a proxy or server on its way back): kept
//   and retried with backoff; the status line says the labels wait on this device.
// - refused for good (400, 404, 409, 422: asking again changes nothing): gone, with the
//   server's reason ("refused").
// - any other answer (401/403 signed out, 429, 500, ...): held, not retried by itself,
//   with the server's message ("held"), until the annotator retries it (``retry``) or
//   discards it (``discard``, then "refused"). Never "waiting" for an answer that will
//   not come.

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
// Answers that will not change however often we ask again.
const REFUSED = new Set([400, 404, 409, 422]);
// Answers worth waiting out: the request did not reach the app, or the app is restarting.
const TRANSIENT = new Set([502, 503, 504]);

export function outcomeOf(answer) {
  if (!answer) return "transient"; // no connection: fetch rejected
  if (answer.ok) return "confirmed";
  if (TRANSIENT.has(answer.status)) return "transient";
  if (REFUSED.has(answer.status)) return "refused";
  return "held";
}

function messageOf(answer) {
  const data = answer && answer.data;
  if (data && typeof data === "object" && typeof data.detail === "string") return data.detail;
  if (answer && (answer.status === 401 || answer.status === 403)) {
    return "You are signed out or may not label; sign in again, then retry.";
  }
  return `The server answered ${answer ? answer.status : "nothing"}.`;
}

export class Outbox extends EventTarget {
  constructor({ storageKey, send }) {
    super();
    this.storageKey = storageKey;
    this.send = send;
    this.entries = this.#load();
    this.inFlight = null; // {entry, done: Promise}
    this.timer = null;
    this.blocked = false; // the last attempt failed for a transient reason
  }

  start() {
    window.addEventListener("online", () => this.retryNow());
    this.#changed();
    this.#drain();
  }

  // Entries on their way (not held).
  get size() {
    return this.entries.filter((entry) => !entry.held).length;
  }

  // Entries the server refused with an answer that needs the annotator: [{entry, status,
  // message}] in the order made.
  get held() {
    return this.entries.filter((entry) => entry.held).map((entry) => ({ entry, ...entry.held }));
  }

  // Sends a held entry again (e.g. after signing in again in another tab).
  retry(clientKey) {
    const entry = this.entries.find((candidate) => candidate.clientKey === clientKey);
    if (!entry || !entry.held) return;
    delete entry.held;
    entry.attempts = 0;
    entry.nextAt = 0;
    this.#save();
    this.#changed();
    this.#drain();
  }

  // Gives a held entry up: it leaves the outbox as a refused one would.
  discard(clientKey) {
    const entry = this.entries.find((candidate) => candidate.clientKey === clientKey);
    if (!entry || !entry.held) return;
    const { status, data } = entry.held;
    this.#remove(entry);
    this.#emit("refused", { entry, status, data, discarded: true });
    this.#changed();
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
    for (const entry of this.entries) if (!entry.held) entry.nextAt = 0;
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
    this.#emit("change", { size: this.size, blocked: this.blocked, held: this.held.length });
  }

  #schedule(at) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.#drain(), Math.max(0, at - Date.now()));
  }

  async #drain() {
    if (this.inFlight) return;
    const entry = this.entries.find((candidate) => !candidate.held);
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
    const outcome = outcomeOf(answer);
    if (outcome === "confirmed") {
      this.#remove(entry);
      this.blocked = false;
      this.#emit("confirmed", { entry, data: answer.data });
    } else if (outcome === "refused") {
      this.#remove(entry);
      this.blocked = false;
      this.#emit("refused", { entry, status: answer.status, data: answer.data });
    } else if (outcome === "held" && stillQueued) {
      entry.held = { status: answer.status, message: messageOf(answer), data: answer.data };
      this.blocked = false;
      this.#save();
      this.#emit("held", { entry, status: answer.status, message: entry.held.message });
    } else if (stillQueued) {
      entry.attempts += 1;
      entry.nextAt = Date.now() + BACKOFF_MS[Math.min(entry.attempts, BACKOFF_MS.length) - 1];
      this.blocked = true;
      this.#save();
    }
    this.#changed();
  }

  #remove(entry) {
    const index = this.entries.indexOf(entry);
    if (index >= 0) this.entries.splice(index, 1);
    this.#save();
  }
}
