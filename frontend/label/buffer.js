// Tasks leased ahead of the person, with their images already fetched and decoded, so
// that after Enter the next crop is on screen without a network round trip.

export class TaskBuffer extends EventTarget {
  // isKnown(taskId): the page already has this task (on screen, submitted, in the outbox).
  // heldElsewhere(): how many tasks we hold outside the buffer (the server returns them
  // again on every lease, so they must be asked for on top of the fresh ones).
  constructor({ api, leaseMs, target = 5, low = 3, isKnown, heldElsewhere }) {
    super();
    this.api = api;
    this.leaseMs = leaseMs;
    this.target = target;
    this.low = low;
    this.isKnown = isKnown;
    this.heldElsewhere = heldElsewhere;
    this.ready = [];
    this.pending = null;
    this.exhausted = false; // the last lease brought nothing new
  }

  get size() {
    return this.ready.length;
  }

  take() {
    const item = this.ready.shift() || null;
    // Once the queue ran dry, only the page's slow poll asks again.
    if (!this.exhausted) this.refill();
    return item;
  }

  putBack(item) {
    this.ready.unshift(item);
  }

  drop(taskId) {
    const index = this.ready.findIndex((item) => item.taskId === taskId);
    if (index < 0) return null;
    const [item] = this.ready.splice(index, 1);
    URL.revokeObjectURL(item.objectUrl);
    return item;
  }

  has(taskId) {
    return this.ready.some((item) => item.taskId === taskId);
  }

  // Leases more when fewer than `low` are ready; concurrent calls share one request.
  refill({ force = false } = {}) {
    if (this.pending) return this.pending;
    if (!force && this.ready.length >= this.low) return Promise.resolve();
    // Listeners hear the outcome once `pending` is cleared, so they may lease again.
    this.pending = this.#lease().then(
      (outcome) => {
        this.pending = null;
        this.#emit(outcome.type, outcome);
      },
      () => {
        this.pending = null;
        this.#emit("failed", { status: 0 });
      },
    );
    return this.pending;
  }

  async #lease() {
    const held = this.ready.length + this.heldElsewhere();
    const count = Math.min(50, held + Math.max(1, this.target - this.ready.length));
    let answer;
    try {
      answer = await this.api.leaseNext(count);
    } catch {
      return { type: "failed", status: 0 };
    }
    if (answer.status === 204) {
      this.exhausted = true;
      return { type: "change" };
    }
    if (!answer.ok) {
      return { type: "failed", status: answer.status };
    }
    const deadline = Date.now() + this.leaseMs;
    const fresh = [];
    for (const task of answer.data.tasks) {
      const buffered = this.ready.find((item) => item.taskId === task.id);
      if (buffered) {
        buffered.deadline = deadline; // leasing again renewed it
      } else if (this.isKnown(task.id)) {
        this.#emit("renewed", { taskId: task.id, deadline });
      } else {
        fresh.push(task);
      }
    }
    const prepared = await Promise.all(fresh.map((task) => this.#prepare(task, deadline)));
    let added = 0;
    for (const item of prepared) {
      if (!item) continue;
      if (this.isKnown(item.taskId) || this.has(item.taskId)) {
        URL.revokeObjectURL(item.objectUrl);
        continue;
      }
      this.ready.push(item);
      added += 1;
    }
    this.exhausted = added === 0 && this.ready.length === 0;
    return { type: "change" };
  }

  async #prepare(task, deadline) {
    let image;
    try {
      image = await this.api.loadImage(task.image_url);
    } catch {
      return null; // offline: the next lease hands the same task back
    }
    if (!image) return null;
    return {
      mode: "task",
      taskId: task.id,
      cropId: task.crop_id,
      imageUrl: task.image_url,
      objectUrl: image.objectUrl,
      width: image.width,
      height: image.height,
      prefillText: task.prefill_text || "",
      prefillConfidence: task.prefill_confidence,
      charConfidences: task.prefill_char_confidences || [],
      deadline,
    };
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
