// The session counter: words labeled in this browser session and the median time per
// label. Keyed by the submission's client_key so that an undone or refused one is taken
// back; kept in sessionStorage (per tab, per account) so that a reload does not reset it.

const KEEP = 2000; // entries kept; the counter of a very long session stays right

export class SessionStats {
  constructor({ storageKey = null } = {}) {
    this.storageKey = storageKey;
    this.entries = new Map(); // clientKey -> {counts, elapsedMs}
    try {
      const saved = storageKey && JSON.parse(sessionStorage.getItem(storageKey) || "[]");
      for (const [key, entry] of saved || []) this.entries.set(key, entry);
    } catch {
      // unreadable or blocked storage: start from zero
    }
  }

  save() {
    if (!this.storageKey) return;
    try {
      const entries = [...this.entries].slice(-KEEP);
      sessionStorage.setItem(this.storageKey, JSON.stringify(entries));
    } catch {
      // full or blocked: the counter still works for this page
    }
  }

  record(clientKey, { counts, elapsedMs }) {
    this.entries.set(clientKey, { counts, elapsedMs });
    this.save();
  }

  forget(clientKey) {
    this.entries.delete(clientKey);
    this.save();
  }

  get labeled() {
    let total = 0;
    for (const entry of this.entries.values()) if (entry.counts) total += 1;
    return total;
  }

  get medianMs() {
    const times = [...this.entries.values()].map((entry) => entry.elapsedMs).sort((a, b) => a - b);
    if (!times.length) return null;
    const middle = Math.floor(times.length / 2);
    return times.length % 2 ? times[middle] : (times[middle - 1] + times[middle]) / 2;
  }
}
