// The JSON API of the labeling loop (see annotations/api/urls.py), spoken with the
// session cookie and Django's CSRF token. Network failures reject with a TypeError;
// every HTTP answer resolves to {status, ok, data} so callers decide what is final.

export function createApi({ base, csrfToken }) {
  // The page's token (its data- attribute) is the only one: the CSRF cookie is HttpOnly
  // (CSRF_COOKIE_HTTPONLY), so document.cookie never shows it, and with secure cookies it
  // is named __Host-dropturk_csrf anyway. A rotation (signing in again) renders a new page.
  const token = () => csrfToken;

  async function request(method, path, body) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRFToken"] = token();
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path.startsWith("/") ? path : base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
    let data = null;
    if (response.status !== 204) {
      data = await response.json().catch(() => null);
    }
    return { status: response.status, ok: response.ok, data };
  }

  return {
    post: (path, body) => request("POST", path, body),
    leaseNext: (count) => request("POST", `tasks/next/?count=${count}`),
    renew: (taskId) => request("POST", `tasks/${taskId}/renew/`),
    labelsMine: (limit) => request("GET", `labels/mine/?limit=${limit}`),
    submitPath: (taskId) => `tasks/${taskId}/submit/`,
    skipPath: (taskId) => `tasks/${taskId}/skip/`,
    revisePath: (labelId) => `labels/${labelId}/revise/`,

    // The crop as a decoded image behind a blob: URL, so showing it later needs no
    // network and survives going offline. Resolves to null when the server says no.
    async loadImage(url) {
      const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) return null;
      const objectUrl = URL.createObjectURL(await response.blob());
      const image = new Image();
      image.src = objectUrl;
      try {
        await image.decode();
      } catch {
        URL.revokeObjectURL(objectUrl);
        return null;
      }
      return { objectUrl, width: image.naturalWidth, height: image.naturalHeight };
    },
  };
}

export function errorMessage(data, fallback) {
  if (!data || typeof data !== "object") return fallback;
  if (typeof data.detail === "string") return data.detail;
  const first = Object.values(data)[0];
  if (Array.isArray(first) && first.length) return String(first[0]);
  if (typeof first === "string") return first;
  return fallback;
}
