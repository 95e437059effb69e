// The session counter: words labeled on this page and the median time per label.
// Keyed by the submission's client_key so that an undone or refused one is taken back.

export class SessionStats {
  constructor() {
    this.entries = new Map(); // clientKey -> {counts, elapsedMs}
  }

  record(clientKey, { counts, elapsedMs }) {
    this.entries.set(clientKey, { counts, elapsedMs });
  }

  forget(clientKey) {
    this.entries.delete(clientKey);
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
