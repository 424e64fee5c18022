// api.js: the console API of docs/console.md, from the page. GETs are plain; every state-changing request
// (the actions and the rule tester) sends the per-run CSRF token of /api/session in X-Albfargate-Csrf,
// and the browser adds the page's own Origin. An answer that is not 2xx becomes an ApiError carrying
// the server's one line and its code (csrf, origin, not_found ...).

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let token = null;

export async function session() {
  const doc = await get("/api/session");
  token = doc.csrf_token;
  return doc;
}

async function answer(r) {
  let doc = null;
  try {
    doc = await r.json();
  } catch {
    doc = null;
  }
  if (!r.ok) {
    const msg = doc && doc.error ? doc.error : `${r.status} ${r.statusText}`;
    throw new ApiError(r.status, doc && doc.code ? doc.code : "http", msg);
  }
  return doc;
}

export async function get(path) {
  const r = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
  return answer(r);
}

export async function post(path, body) {
  const r = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Albfargate-Csrf": token ?? "" },
    body: JSON.stringify(body ?? {}),
    cache: "no-store",
  });
  return answer(r);
}

export function action(name, body) {
  return post(`/api/actions/${name}`, body);
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== "") q.set(k, String(v));
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}
