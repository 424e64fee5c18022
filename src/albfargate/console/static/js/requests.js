// requests.js: the requests timeline (#requests): the newest requests first with time, method, path, host,
// matched rule, chosen target, status, duration and whether the ALB answered itself; filtered (by the
// server's filters of /api/requests, and the same test applied to the live `request` events); a row opens
// the request's headers in and out (/api/requests/{id}), and Replay sends it again.

import { subscribe, currentPage, toast, confirmDialog } from "./app.js";
import * as api from "./api.js";
import { $, h, clear, clock, duration, activate, throttle, stateBadge } from "./dom.js";

const SHOWN = 500;
let rows = []; // the entries shown: newest first
let selectedId = null;
let capturing = null;

export function init() {
  const form = $("#requests-filter");
  const changed = throttle(() => load(), 250);
  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  form.addEventListener("submit", (ev) => ev.preventDefault());
  form.addEventListener("reset", () => setTimeout(() => load(), 0));
  subscribe((kind, data) => {
    if (kind !== "request") return;
    if (matches(data, filters())) {
      rows.unshift(data);
      if (rows.length > SHOWN) rows.length = SHOWN;
      if (currentPage() === "requests") renderSoon();
    }
  });
}

export function show() {
  load();
}

export function hide() {}

function filters() {
  const f = new FormData($("#requests-filter"));
  const out = {};
  for (const [k, v] of f.entries()) if (String(v).trim() !== "") out[k] = String(v).trim();
  return out;
}

// the server's filter (docs/console.md, /api/requests), for the entries pushed on the stream
export function matches(r, f) {
  if (f.status) {
    const st = f.status.toLowerCase();
    if (/^[1-5]xx$/.test(st)) {
      if (Math.floor(r.status / 100) !== Number(st[0])) return false;
    } else if (String(r.status) !== st) return false;
  }
  if (f.alb_made && String(r.alb_made) !== f.alb_made) return false;
  if (f.method && r.method.toUpperCase() !== f.method.toUpperCase()) return false;
  if (f.path && !(r.path ?? "").includes(f.path)) return false;
  if (f.host && !(r.host ?? "").includes(f.host)) return false;
  if (f.target && r.target !== f.target) return false;
  if (f.rule && String(r.rule_priority) !== f.rule) return false;
  return true;
}

async function load() {
  const f = filters();
  try {
    const doc = await api.get(`/api/requests${api.query({ ...f, limit: SHOWN })}`);
    rows = doc.requests;
    capturing = doc.capturing;
  } catch (err) {
    toast(`Requests: ${err.message}`, "error");
  }
  render();
}

const renderSoon = throttle(() => render(), 300);

function ruleLabel(r) {
  if (r.rule_priority === null || r.rule_priority === undefined) return "–";
  return r.rule_priority === 0 ? "default" : String(r.rule_priority);
}

function render() {
  const note = $("#requests-note");
  note.textContent = `${rows.length} request${rows.length === 1 ? "" : "s"} shown (newest first, at most ${SHOWN}).${
    capturing === false ? " Requests are recorded only while a console is open." : ""
  }`;
  const table = h(
    "table",
    { id: "requests", "aria-label": "Recent requests, newest first" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", {}, "time"),
        h("th", {}, "method"),
        h("th", {}, "path"),
        h("th", {}, "host"),
        h("th", { class: "num" }, "rule"),
        h("th", {}, "target"),
        h("th", { class: "num" }, "status"),
        h("th", { class: "num" }, "duration"),
        h("th", {}, "made by"),
      ),
    ),
    h("tbody", {}, rows.map((r) => row(r))),
  );
  const box = clear($("#requests-table"));
  box.append(table);
}

function row(r) {
  const tr = h(
    "tr",
    {
      class: "row",
      tabindex: 0,
      dataset: { id: r.id, status: r.status },
      "aria-selected": r.id === selectedId ? "true" : "false",
      "aria-label": `${r.method} ${r.path} answered ${r.status}`,
    },
    h("td", { class: "mono" }, clock(r.time, true)),
    h("td", {}, r.method),
    h("td", { class: "mono" }, r.path + (r.query ? `?${r.query}` : "")),
    h("td", {}, r.host ?? "–"),
    h("td", { class: "num" }, ruleLabel(r)),
    h("td", { class: "mono" }, r.target ?? "–"),
    h("td", { class: "num" }, statusBadge(r.status)),
    h("td", { class: "num" }, duration(r.duration)),
    h("td", {}, r.alb_made ? "ALB" : "target"),
  );
  activate(tr, () => select(r.id));
  return tr;
}

function statusBadge(code) {
  const cls = code >= 500 ? "unhealthy" : code >= 400 ? "draining" : code >= 300 ? "initial" : "healthy";
  return stateBadge(cls, String(code));
}

async function select(id) {
  selectedId = id;
  for (const tr of document.querySelectorAll("#requests tr.row")) {
    tr.setAttribute("aria-selected", tr.dataset.id === String(id) ? "true" : "false");
  }
  const panel = clear($("#request-detail"));
  panel.append(h("p", { class: "hint" }, "Loading…"));
  let r;
  try {
    r = await api.get(`/api/requests/${id}`);
  } catch (err) {
    clear(panel).append(h("p", { class: "hint" }, err.message));
    return;
  }
  clear(panel).append(detail(r));
}

function headersTable(title, headers, id) {
  if (!headers) {
    return h("p", { class: "hint" }, `${title}: none (${title.includes("out") ? "the ALB answered itself" : "not kept"}).`);
  }
  return h(
    "div",
    {},
    h("h3", {}, title),
    h("table", { id }, h("tbody", {}, headers.map(([n, v]) => h("tr", {}, h("td", {}, n), h("td", { class: "mono" }, v))))),
  );
}

function bodyText(body) {
  if (body === null) return "none";
  const size = body.length === null ? `chunked, ${body.captured} bytes` : `${body.length} bytes`;
  return body.whole ? `${size}, kept whole (not shown; replay sends it)` : `${size}, not kept whole (not shown)`;
}

function detail(r) {
  const replay = h("button", { type: "button", class: "primary", id: "act-replay" }, "Replay");
  const result = h("p", { id: "replay-result", "aria-live": "polite" });
  const body = r.body ?? null;
  // a body that was not captured whole is not sent again blindly: the button is off and says why
  const blocked = body !== null && !body.whole;
  if (blocked) {
    replay.disabled = true;
    replay.setAttribute("aria-describedby", "replay-blocked");
  }
  replay.addEventListener("click", async () => {
    // a request that may change state (POST, PUT, DELETE ...) is sent again only once confirmed
    const safe = r.method === "GET" || r.method === "HEAD" || r.method === "OPTIONS";
    if (!safe && !(await confirmDialog(`Replay ${r.method} ${r.path}?`, `The target gets this ${r.method} again${body ? `, with its body (${bodyText(body)})` : ""}.`, "Replay"))) return;
    replay.disabled = true;
    try {
      const a = await api.action("replay", { request_id: r.id });
      result.textContent = a.status === null ? `Replayed: no answer (${a.note ?? "timed out"})` : `Replayed: ${a.status}${a.note ? ` (${a.note})` : ""}`;
      toast(result.textContent);
    } catch (err) {
      result.textContent = `Replay refused (${err.status} ${err.code}): ${err.message}`;
      toast(result.textContent, "error");
    } finally {
      replay.disabled = blocked;
    }
  });
  const kv = [
    ["request", `${r.method} ${r.path}${r.query ? `?${r.query}` : ""}`],
    ["time", clock(r.time, true)],
    ["host", r.host],
    ["client", r.client],
    ["load balancer", r.load_balancer],
    ["rule", ruleLabel(r)],
    ["actions", (r.actions ?? []).join(", ")],
    ["target", r.target ?? "none"],
    ["status", `${r.status}${r.alb_made ? " (made by the ALB)" : ` (target said ${r.target_status})`}`],
    ["duration", duration(r.duration)],
    ["target time", duration(r.target_processing_time)],
    ["bytes in / out", `${r.received_bytes} / ${r.sent_bytes}`],
    ["body", bodyText(body)],
    r.error_reason ? ["error", r.error_reason] : null,
    r.redirect_url ? ["redirect", r.redirect_url] : null,
    ["trace", r.trace_id],
  ].filter(Boolean);
  return h(
    "div",
    { dataset: { id: r.id } },
    h("h3", {}, `Request ${r.id}`),
    h("dl", { class: "kv" }, kv.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "–")])),
    h("div", { class: "actions" }, replay),
    blocked ? h("p", { class: "hint", id: "replay-blocked" }, `Replay is off: ${body.why}.`) : null,
    result,
    headersTable("Headers in (as received)", r.headers_in, "headers-in"),
    headersTable("Headers out (as sent to the target)", r.headers_out, "headers-out"),
    h("p", { class: "hint" }, "Credentials (Authorization, Cookie …) are shown as ****, and bodies are not shown; a replay sends the originals, which never leave the server."),
  );
}
