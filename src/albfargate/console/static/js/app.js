// app.js: the console's shell. It loads the session (the CSRF token) and the topology, follows the live
// event stream (Server-Sent Events, /api/events), keeps the client's copy of the state up to date from
// the events, and routes between the pages (#topology, #traffic, #requests, #rules, #services[/NAME],
// #logs). Also the pieces every page shares: the detail drawer, the confirmation dialog, the toasts and
// the actions (each confirmed first, then sent with the CSRF token).

import * as api from "./api.js";
import { $, h, clear, installTooltip, setServerNow, throttle } from "./dom.js";
import * as topologyPage from "./topology.js";
import * as trafficPage from "./traffic.js";
import * as requestsPage from "./requests.js";
import * as rulesPage from "./ruletest.js";
import * as servicesPage from "./services.js";
import * as logsPage from "./logs.js";

const MAX_REQUESTS = 2000;

export const state = {
  session: null,
  topology: null,
  version: 0,
  series: new Map(), // "scope|id" -> {scope, id, label, points: [...]}
  requests: [], // newest first: the timeline entries seen (from /api/requests and `request` events)
  connected: false,
};

const listeners = new Set();
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
function notify(kind, data) {
  for (const fn of listeners) {
    try {
      fn(kind, data);
    } catch (err) {
      console.error("console: a page failed on", kind, err);
    }
  }
}

// ---- the state, changed by the events of docs/console.md ----------------------------------------------
function applyService(svc) {
  const list = state.topology.services;
  const i = list.findIndex((s) => s.name === svc.name);
  const copy = { ...svc };
  delete copy.event;
  if (i >= 0) list[i] = copy;
  else list.push(copy);
}

function applyTask(data) {
  const svc = state.topology.services.find((s) => s.name === data.service);
  if (!svc) return;
  const t = data.task;
  const i = svc.tasks.findIndex((x) => x.id === t.id);
  if (t.last_status === "STOPPED") {
    if (i >= 0) svc.tasks.splice(i, 1);
  } else if (i >= 0) svc.tasks[i] = t;
  else svc.tasks.push(t);
}

function applyTargets(data) {
  const tg = state.topology.target_groups.find((g) => g.arn === data.target_group_arn);
  if (tg) tg.targets = data.targets;
}

function applyRules(data) {
  for (const lb of state.topology.load_balancers) {
    for (const l of lb.listeners) if (l.arn === data.listener_arn) l.rules = data.rules;
  }
}

const APPLY = { service: applyService, task: applyTask, targets: applyTargets, rules: applyRules };

function applyMetrics(data) {
  const windowStart = data.t - (state.session?.metrics?.window_seconds ?? 900);
  let unknown = false;
  for (const p of data.points) {
    const key = `${p.scope}|${p.id}`;
    const series = state.series.get(key);
    if (!series) {
      unknown = true;
      continue;
    }
    const { scope, id, ...point } = p;
    series.points.push(point);
    while (series.points.length && series.points[0].t < windowStart) series.points.shift();
  }
  if (unknown) reloadMetrics();
  notify("metrics", data);
}

const reloadMetrics = throttle(async () => {
  try {
    await loadMetrics();
    notify("metrics", null);
  } catch (err) {
    console.warn("console: metrics", err);
  }
}, 5000);

export async function loadMetrics() {
  const doc = await api.get("/api/metrics");
  const next = new Map();
  for (const s of doc.series) next.set(`${s.scope}|${s.id}`, s);
  state.series = next;
}

export function addRequest(entry) {
  if (state.requests.length && state.requests[0].id >= entry.id) {
    if (state.requests.some((r) => r.id === entry.id)) return;
  }
  state.requests.unshift(entry);
  if (state.requests.length > MAX_REQUESTS) state.requests.length = MAX_REQUESTS;
}

async function loadTopology() {
  const doc = await api.get("/api/topology");
  state.topology = doc;
  state.version = doc.version;
  notify("topology", { full: true });
}

// ---- the live stream -----------------------------------------------------------------------------------
let source = null;
let buffered = null; // events that came before the first topology, applied after it
const topologyChanged = throttle(() => notify("topology", { full: false }), 150);

function setConn(kind, text) {
  const el = $("#conn");
  el.dataset.state = kind;
  el.querySelector(".label").textContent = text;
  state.connected = kind === "live";
  notify("connection", kind);
}

function onStateEvent(name, ev) {
  const id = Number(ev.lastEventId);
  const data = JSON.parse(ev.data);
  if (buffered) {
    buffered.push([name, id, data]);
    return;
  }
  if (!state.topology || (id && id <= state.version)) return;
  state.version = id || state.version;
  APPLY[name](data);
  notify(name, data);
  topologyChanged();
}

function connect() {
  source = new EventSource("/api/events?requests=1");
  source.addEventListener("hello", async () => {
    setConn("live", "live");
    if (state.topology) return; // a reconnect: the server sends what was missed (or a resync)
    buffered = [];
    try {
      await loadTopology();
    } finally {
      const early = buffered;
      buffered = null;
      for (const [name, id, data] of early) {
        if (id > state.version) {
          state.version = id;
          APPLY[name](data);
          notify(name, data);
        }
      }
      topologyChanged();
    }
  });
  for (const name of Object.keys(APPLY)) source.addEventListener(name, (ev) => onStateEvent(name, ev));
  source.addEventListener("resync", async (ev) => {
    const data = JSON.parse(ev.data);
    state.version = data.version;
    await loadTopology();
  });
  source.addEventListener("metrics", (ev) => applyMetrics(JSON.parse(ev.data)));
  source.addEventListener("request", (ev) => {
    const entry = JSON.parse(ev.data);
    addRequest(entry);
    notify("request", entry);
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      setConn("down", "disconnected: reload the page");
    } else setConn("down", "reconnecting…");
  };
}

// ---- the drawer: details of the selected item, rebuilt when the state changes --------------------------
let drawerRender = null;
let drawerOpener = null;
export function openDrawer(title, render) {
  const drawer = $("#drawer");
  drawerOpener = document.activeElement;
  drawerRender = render;
  $("#drawer-title").textContent = title;
  drawer.hidden = false;
  refreshDrawer();
  $("#drawer-title").focus();
}
export function refreshDrawer() {
  if (!drawerRender || $("#drawer").hidden) return;
  const body = clear($("#drawer-body"));
  const keep = document.activeElement && body.contains(document.activeElement) ? document.activeElement.id : null;
  const content = drawerRender();
  if (content === null) {
    body.append(h("p", { class: "hint" }, "This item is gone."));
  } else body.append(content);
  if (keep && document.getElementById(keep)) document.getElementById(keep).focus();
}
export function closeDrawer() {
  $("#drawer").hidden = true;
  drawerRender = null;
  if (drawerOpener && document.contains(drawerOpener)) drawerOpener.focus();
  else if (drawerOpener?.id) document.getElementById(drawerOpener.id)?.focus();
  drawerOpener = null;
}

// ---- toasts, confirmation, actions ---------------------------------------------------------------------
export function toast(text, kind = "info") {
  const el = h("div", { class: `toast ${kind}`, dataset: { kind } }, text);
  $("#toasts").append(el);
  setTimeout(() => el.remove(), kind === "error" ? 12000 : 5000);
}

export function confirmDialog(title, body, okLabel = "Confirm") {
  const dlg = $("#confirm");
  $("#confirm-title").textContent = title;
  clear($("#confirm-body")).append(typeof body === "string" ? h("p", {}, body) : body);
  $("#confirm-ok").textContent = okLabel;
  return new Promise((resolve) => {
    dlg.addEventListener("close", () => resolve(dlg.returnValue === "ok"), { once: true });
    dlg.returnValue = "";
    dlg.showModal();
    $("#confirm-cancel").focus();
  });
}

// an action of docs/console.md: confirmed, sent with the token; the answer, or the refusal, as a toast
export async function runAction(name, body, { title, text, ok, done }) {
  if (!(await confirmDialog(title, text, ok))) return null;
  try {
    const answer = await api.action(name, body);
    toast(done ? done(answer) : `${title}: done`);
    return answer;
  } catch (err) {
    const why = err instanceof api.ApiError ? `refused (${err.status} ${err.code}): ${err.message}` : String(err);
    toast(`${title}: ${why}`, "error");
    return null;
  }
}

// ---- pages and the router ------------------------------------------------------------------------------
const PAGES = {
  topology: topologyPage,
  traffic: trafficPage,
  requests: requestsPage,
  rules: rulesPage,
  services: servicesPage,
  logs: logsPage,
};
let current = null;

function route() {
  const hash = decodeURIComponent(location.hash.replace(/^#/, "")) || "topology";
  const [name, ...rest] = hash.split("/");
  const page = PAGES[name] ? name : "topology";
  const arg = rest.join("/") || null;
  for (const a of document.querySelectorAll("header nav a")) {
    if (a.dataset.page === page) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (current && current !== page) {
    PAGES[current].hide?.();
    $(`#page-${current}`).hidden = true;
  }
  const changed = current !== page;
  current = page;
  $(`#page-${page}`).hidden = false;
  document.title = `${$(`#h-${page}`).textContent} · albfargate console`;
  PAGES[page].show(arg);
  if (changed && !$("#drawer").hidden) closeDrawer();
}

export function currentPage() {
  return current;
}

async function main() {
  installTooltip();
  for (const page of Object.values(PAGES)) page.init?.();
  $("#drawer-close").addEventListener("click", closeDrawer);
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && !$("#drawer").hidden && !$("#confirm").open) closeDrawer();
  });
  // the drawer shows state objects: rebuilt when they change, not on every metrics tick
  subscribe((kind) => {
    if (kind === "topology") refreshDrawer();
  });
  window.addEventListener("hashchange", route);
  try {
    const sess = await api.session();
    state.session = sess;
    setServerNow(sess.now);
  } catch (err) {
    setConn("down", "the console's server does not answer");
    toast(`Could not load the session: ${err.message}`, "error");
    return;
  }
  route();
  try {
    await loadMetrics();
  } catch (err) {
    console.warn("console: metrics", err);
  }
  connect();
}

main();
