// services.js: the services page (#services/NAME). Per service: its deployments (the current ones as
// /api/services/{name} gives them, PRIMARY first, and a timeline that also keeps the deployments this
// page saw finish), the service events, the tasks with their stop reasons, the autoscaling policy with
// its metric, target and recent activities, and the actions scale and redeploy (stop a task per task).
// Refreshed when the event stream says the service or one of its tasks changed.

import { state, subscribe, runAction, currentPage } from "./app.js";
import * as api from "./api.js";
import { $, h, s, clear, clock, short, now, stateBadge, throttle } from "./dom.js";
import { stopTaskButton } from "./topology.js";

let selected = null;
let detail = null;
let loadError = null;
const history = new Map(); // service -> Map(deployment id -> {record, first_seen, gone_at})

export function init() {
  subscribe((kind, data) => {
    if (currentPage() !== "services") return;
    if (kind === "topology") renderList();
    if ((kind === "service" && data.name === selected) || (kind === "task" && data.service === selected)) reload();
    if (kind === "topology" && data?.full) reload();
  });
}

export function show(arg) {
  const names = (state.topology?.services ?? []).map((x) => x.name);
  selected = arg ?? selected ?? names[0] ?? null;
  detail = null;
  renderList();
  render();
  reload();
}

export function hide() {}

const reload = throttle(async () => {
  if (!selected) return render();
  const name = selected;
  try {
    const doc = await api.get(`/api/services/${encodeURIComponent(name)}`);
    if (name !== selected) return;
    detail = doc;
    loadError = null;
    remember(doc);
  } catch (err) {
    loadError = err.message;
  }
  render();
}, 400);

function remember(doc) {
  let seen = history.get(doc.name);
  if (!seen) history.set(doc.name, (seen = new Map()));
  const current = new Set(doc.deployments.map((d) => d.id));
  for (const d of doc.deployments) {
    const had = seen.get(d.id);
    seen.set(d.id, { record: d, gone_at: null, first_seen: had?.first_seen ?? now() });
  }
  for (const [id, item] of seen) if (!current.has(id) && item.gone_at === null) item.gone_at = now();
}

function renderList() {
  const nav = clear($("#service-list"));
  const services = state.topology?.services ?? [];
  if (!services.length) nav.append(h("p", { class: "hint" }, "No service runs."));
  for (const svc of services) {
    const b = h(
      "button",
      { type: "button", "aria-current": svc.name === selected ? "true" : "false", dataset: { service: svc.name } },
      h("strong", {}, svc.name),
      h("br"),
      `${svc.running}/${svc.desired} running · `,
      svc.steady ? "steady" : `${svc.deployments.length} deployment${svc.deployments.length === 1 ? "" : "s"}`,
    );
    b.addEventListener("click", () => {
      location.hash = `#services/${encodeURIComponent(svc.name)}`;
    });
    nav.append(b);
  }
}

function card(title, ...content) {
  return h("section", { class: "card", "aria-label": title }, h("h3", {}, title), ...content);
}

function render() {
  const root = clear($("#service-detail"));
  if (!selected) {
    root.append(h("p", { class: "hint" }, "No service runs."));
    return;
  }
  if (loadError) {
    root.append(h("p", { class: "hint" }, loadError));
    return;
  }
  if (!detail) {
    root.append(h("p", { class: "hint" }, `Loading ${selected}…`));
    return;
  }
  const d = detail;
  root.append(
    h(
      "div",
      { class: "service-head" },
      h("h3", {}, `Service ${d.name} `, stateBadge(d.status)),
      h(
        "p",
        { id: "service-counts" },
        `desired ${d.desired} · running ${d.running} · pending ${d.pending} · `,
        d.steady ? stateBadge("COMPLETED", "steady") : stateBadge("IN_PROGRESS", "not steady"),
        ` · cluster ${d.cluster} · task definition ${d.task_definition?.split("/").pop() ?? "–"}`,
      ),
      actions(d),
    ),
    h(
      "div",
      { class: "cards" },
      h("section", { class: "card wide", "aria-label": "Deployments" }, h("h3", {}, "Deployments"), deploymentsTimeline(d), deploymentsTable(d)),
      h("section", { class: "card wide", "aria-label": "Tasks" }, h("h3", {}, "Tasks (stopped ones too)"), tasksTable(d)),
      card("Service events", events(d)),
      card("Autoscaling", scaling(d)),
      card("Uses", uses(d)),
    ),
  );
}

function actions(d) {
  const count = h("input", { type: "number", min: 0, max: 1000, value: d.desired, id: "scale-count", size: 4 });
  const scale = h("button", { type: "button", id: "act-scale" }, "Scale…");
  scale.addEventListener("click", () => {
    const n = Number(count.value);
    runAction(
      "scale",
      { service: d.name, count: n },
      {
        title: `Scale ${d.name}`,
        text: `Set the desired count of ${d.name} from ${d.desired} to ${n}? The scheduler starts or stops tasks to match (as UpdateService does).`,
        ok: "Scale",
        done: (a) => `${a.service}: desired ${a.desired}`,
      },
    );
  });
  const redeploy = h("button", { type: "button", id: "act-redeploy" }, "Redeploy…");
  redeploy.addEventListener("click", () =>
    runAction(
      "redeploy",
      { service: d.name },
      {
        title: `Redeploy ${d.name}`,
        text: `Start a new deployment of ${d.name} (force new deployment)? New tasks start and turn healthy before the old ones drain and stop, as the deployment configuration says.`,
        ok: "Redeploy",
        done: (a) => `${a.service}: new deployment ${a.deployment}`,
      },
    ),
  );
  return h(
    "div",
    { class: "actions" },
    h("label", {}, "Desired count", count),
    scale,
    redeploy,
    h("a", { href: `#logs/service/${encodeURIComponent(d.name)}` }, "Logs"),
  );
}

const ROLLOUT_STATE = { COMPLETED: "COMPLETED", IN_PROGRESS: "IN_PROGRESS", FAILED: "FAILED" };

function deploymentsTable(d) {
  return h(
    "table",
    { id: "deployments-table" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["deployment", "status", "rollout", "running / desired", "pending", "failed tasks", "created"].map((c) => h("th", {}, c)),
      ),
    ),
    h(
      "tbody",
      {},
      d.deployments.map((x) =>
        h(
          "tr",
          { dataset: { deployment: x.id, status: x.status } },
          h("td", { class: "mono" }, x.id),
          h("td", {}, stateBadge(x.status)),
          h("td", { title: x.rollout_state_reason ?? "" }, stateBadge(ROLLOUT_STATE[x.rollout_state] ?? x.rollout_state, x.rollout_state)),
          h("td", { class: "num" }, `${x.running} / ${x.desired}`),
          h("td", { class: "num" }, String(x.pending)),
          h("td", { class: "num" }, String(x.failed_tasks)),
          h("td", {}, clock(x.created_at)),
        ),
      ),
    ),
    d.deployments.some((x) => x.rollout_state_reason)
      ? h(
          "caption",
          { style: "caption-side: bottom; text-align: left; color: var(--muted); font-size: 12px" },
          d.deployments.map((x) => (x.rollout_state_reason ? `${x.id}: ${x.rollout_state_reason}` : "")).filter(Boolean).join(" · "),
        )
      : null,
  );
}

// one bar per deployment, from its creation to now (or to when this page saw it go)
function deploymentsTimeline(d) {
  const seen = [...(history.get(d.name)?.values() ?? [])];
  const items = seen.length ? seen : d.deployments.map((r) => ({ record: r, gone_at: null }));
  items.sort((a, b) => a.record.created_at - b.record.created_at);
  const t1 = now();
  const t0 = Math.min(t1 - 60, ...items.map((i) => i.record.created_at));
  const W = 760;
  const left = 330;
  const row = 22;
  const H = 22 + items.length * row;
  const x = (t) => left + ((t - t0) / Math.max(1, t1 - t0)) * (W - left - 10);
  const bars = items.map((item, i) => {
    const r = item.record;
    const y = 20 + i * row;
    const end = item.gone_at ?? t1;
    const colour = item.gone_at ? "#8c959f" : r.status === "PRIMARY" ? "#0969da" : "#bc4c00";
    const label = item.gone_at
      ? `${r.status} until ${clock(item.gone_at)} (gone)`
      : `${r.status} · ${r.rollout_state} · ${r.running}/${r.desired} running`;
    return s(
      "g",
      { dataset: { deployment: r.id, gone: item.gone_at ? "true" : "false" } },
      s("text", { x: 0, y: y + 11, class: "mono" }, short(r.id.replace("ecs-svc/", "…"), 12)),
      s("text", { x: 100, y: y + 11 }, label),
      s("rect", { x: x(r.created_at), y: y + 1, width: Math.max(3, x(end) - x(r.created_at)), height: 12, rx: 3, fill: colour }),
    );
  });
  return s(
    "svg",
    { class: "deployments", viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": `Deployments of ${d.name} over time` },
    s("line", { class: "axis", x1: left, x2: W - 10, y1: 14, y2: 14 }),
    s("text", { x: left, y: 10 }, clock(t0)),
    s("text", { x: W - 10, y: 10, "text-anchor": "end" }, `now ${clock(t1)}`),
    bars,
  );
}

function events(d) {
  if (!d.events.length) return h("p", { class: "hint" }, "No events yet.");
  return h(
    "ul",
    { class: "events", id: "service-events", tabindex: 0, "aria-label": "Service events, newest first" },
    d.events.map((e) => h("li", {}, h("time", { datetime: new Date(e.created_at * 1000).toISOString() }, clock(e.created_at)), e.message)),
  );
}

function tasksTable(d) {
  return h(
    "div",
    { class: "scroll", style: "max-height: 320px" },
    h(
      "table",
      { id: "tasks-table" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["task", "status · health", "target", "deployment", "started", "stopped", "stop code and reason", ""].map((c) => h("th", {}, c)),
        ),
      ),
      h(
        "tbody",
        {},
        d.all_tasks.map((t) =>
          h(
            "tr",
            { dataset: { task: t.id, status: t.last_status } },
            h("td", { class: "mono", title: t.id }, short(t.id)),
            h(
              "td",
              {},
              stateBadge(t.last_status),
              t.desired_status !== t.last_status ? ` → ${t.desired_status}` : "",
              h("br"),
              h("small", { class: "hint" }, `health ${t.health ?? "–"}`),
            ),
            h("td", {}, t.target ? [h("span", { class: "mono" }, t.target), " ", t.target_state ? stateBadge(t.target_state) : null] : "–"),
            h("td", { class: "mono", title: t.deployment ?? "" }, t.deployment ? short(t.deployment.replace("ecs-svc/", ""), 8) : "–"),
            h("td", {}, t.started_at ? clock(t.started_at) : "–"),
            h("td", {}, t.stopped_at ? clock(t.stopped_at) : t.stopping_at ? `stopping since ${clock(t.stopping_at)}` : "–"),
            h("td", {}, t.stop_code ? [h("strong", {}, t.stop_code), ": "] : null, t.stopped_reason ?? (t.stop_code ? "" : "–")),
            h("td", {}, t.desired_status !== "STOPPED" ? stopTaskButton(t.id, d.name, true) : ""),
          ),
        ),
      ),
    ),
  );
}

function scaling(d) {
  const sc = d.scaling;
  if (!sc) return h("p", { class: "hint" }, "No scalable target: the desired count changes only by hand.");
  return h(
    "div",
    { id: "scaling" },
    h("p", {}, `${sc.target.resource_id}: between ${sc.target.min} and ${sc.target.max} tasks.`),
    sc.policies.length
      ? h(
          "table",
          {},
          h("thead", {}, h("tr", {}, ["policy", "metric", "target", "cooldown in / out"].map((c) => h("th", {}, c)))),
          h(
            "tbody",
            {},
            sc.policies.map((p) =>
              h(
                "tr",
                {},
                h("td", {}, p.name),
                h("td", {}, p.metric),
                h("td", { class: "num" }, String(p.target_value)),
                h("td", {}, `${p.scale_in_cooldown ?? "–"} s / ${p.scale_out_cooldown ?? "–"} s${p.disable_scale_in ? " (no scale-in)" : ""}`),
              ),
            ),
          ),
        )
      : h("p", { class: "hint" }, "No scaling policy."),
    h("h3", {}, "Recent scaling activities"),
    sc.activities.length
      ? h(
          "ul",
          { class: "events" },
          sc.activities.map((a) => h("li", {}, h("time", {}, clock(a.time)), `${a.description} `, h("span", { class: "hint" }, `(${a.cause}; ${a.status ?? ""})`))),
        )
      : h("p", { class: "hint" }, "None yet."),
  );
}

function uses(d) {
  if (!d.uses?.length) return h("p", { class: "hint" }, "No backing resource is known to be used (secret values are never shown).");
  return h("ul", {}, d.uses.map((u) => h("li", {}, `${u.kind} `, h("strong", {}, u.name))));
}
