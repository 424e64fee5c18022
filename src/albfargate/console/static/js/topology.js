// topology.js: the topology page, a hand-written SVG picture of /api/topology. Columns, left to right:
// load balancers → listeners → rules (evaluation order, conditions and actions written out) → target
// groups with their targets (coloured by health state, with the state as text and the reason code on
// hover and focus), the services under their target groups with their tasks, and the backing resources
// beside the services that use them. Every item is focusable (Tab), Enter or Space (or a click) opens its
// details in the drawer, with the actions that apply to it. Redrawn as the event stream changes the state.

import { state, subscribe, openDrawer, runAction, currentPage } from "./app.js";
import { $, h, s, clear, activate, wrap, ellipsis, textWidth, short, ago, clock, stateBadge } from "./dom.js";

const FONT = '12px system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif';
const BOLD = `700 ${FONT.replace("12px", "13px")}`;
const LINE = 16;
const PAD = 8;
const GAP = 10;
const COL = {
  lb: { x: 16, w: 150 },
  listener: { x: 198, w: 132 },
  rule: { x: 362, w: 292 },
  tg: { x: 696, w: 262 },
  backing: { x: 992, w: 160 },
};
const WIDTH = COL.backing.x + COL.backing.w + 16;
const TOP = 40;

export const TARGET_STATES = ["healthy", "initial", "unhealthy", "draining", "unused", "unavailable"];
const STOPPING = new Set(["DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED"]);

let visible = false;

export function init() {
  const legend = $("#topology-legend");
  legend.append(h("span", {}, "Target states:"), ...TARGET_STATES.map((st) => stateBadge(st)));
  subscribe((kind) => {
    if (visible && (kind === "topology" || kind === "connection")) render();
  });
}

export function show() {
  visible = true;
  render();
}

export function hide() {
  visible = false;
}

// ---- building blocks -------------------------------------------------------------------------------------
// a box of text lines: [{text, cls}], wrapped to the box; returns {g, height}
function node({ kind, key, x, y, w, lines, cls, label, tip, onOpen, minHeight = 0 }) {
  const texts = [];
  let cy = y + PAD + 11;
  for (const line of lines) {
    const font = line.cls && line.cls.includes("title") ? BOLD : FONT;
    const indent = line.indent ?? 0;
    const room = w - 2 * PAD - indent - (line.right ? textWidth(line.right, BOLD) + 8 : 0);
    const parts = line.nowrap ? [ellipsis(line.text, room, font)] : wrap(line.text, w - 2 * PAD - indent, font, line.max ?? 6);
    for (const [i, part] of parts.entries()) {
      texts.push(s("text", { x: x + PAD + (i ? indent : 0), y: cy, class: line.cls }, part));
      if (line.right && i === 0) {
        texts.push(s("text", { x: x + w - PAD, y: cy, "text-anchor": "end", class: line.rightCls }, line.right));
      }
      cy += LINE;
    }
  }
  const height = Math.max(minHeight, cy - y - 11 + PAD - 4);
  const g = s(
    "g",
    {
      class: ["node", kind, cls],
      tabindex: 0,
      role: "button",
      "aria-label": label,
      "data-key": key,
      "data-tip": tip || null,
    },
    s("rect", { class: "frame", x, y, width: w, height, rx: 6 }),
    texts,
  );
  if (onOpen) activate(g, onOpen);
  return { g, height };
}

function edge(x1, y1, x2, y2, cls = "") {
  const mx = (x1 + x2) / 2;
  return s("path", { class: `edge ${cls}`, d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}` });
}

function conditionLines(rule) {
  if (rule.is_default) return [{ text: "no rule above matched", cls: "muted" }];
  return rule.conditions.map((c, i) => ({ text: `${i ? "AND" : "IF"} ${c.text}`, indent: 12 }));
}

function actionLines(rule) {
  return rule.actions.map((a, i) => ({ text: `${i ? "THEN" : "THEN"} ${a.text}`, indent: 12 }));
}

function ruleTitle(rule) {
  return rule.is_default ? "default rule" : `rule ${rule.priority}`;
}

function targetTip(t) {
  const lines = [`${t.key}: ${t.state}`];
  lines.push(t.reason ? `reason: ${t.reason}` : "reason: none (in service)");
  if (t.description) lines.push(t.description);
  if (t.task_id) lines.push(`task ${t.task_id}`);
  lines.push(`${t.requests} requests, ${t.outstanding} in flight`);
  return lines.join("\n");
}

// ---- the layout ------------------------------------------------------------------------------------------
// The picture's layout: boxes placed column by column, their anchors kept for the edges. Nodes go in
// reading (Tab) order: a box drawn after its children (a listener after its rules) is put before them.
class Layout {
  constructor(topo) {
    this.topo = topo;
    this.edges = [];
    this.nodes = [];
    this.anchors = new Map(); // key -> {x, y, w, h}
    this.placed = new Set(); // services drawn
    this.backingPlaced = new Map(); // "backing|kind|name" -> anchor
    this.ry = TOP; // the next free y of the target-group column
    this.by = TOP; // ... of the backing column
  }

  put(key, n, x, y, w, at = null) {
    this.anchors.set(key, { x, y, w, h: n.height });
    if (at === null) this.nodes.push(n.g);
    else this.nodes.splice(at, 0, n.g);
  }

  run() {
    const leftBottom = this.left();
    for (const tg of this.groupOrder()) this.targetGroup(tg);
    for (const svc of this.topo.services) if (!this.placed.has(svc.name)) this.service(svc);
    this.ruleEdges();
    this.unusedBacking();
    return { edges: this.edges, nodes: this.nodes, height: Math.max(leftBottom, this.ry, this.by) + 10 };
  }

  // ---- left side: load balancers, their listeners, the listeners' rules ----------------------------------
  left() {
    let y = TOP;
    for (const lb of this.topo.load_balancers) {
      const lbTop = y;
      const lbAt = this.nodes.length;
      for (const l of lb.listeners) y = this.listener(lb, l, y);
      const n = node({
        kind: "lb",
        key: `lb|${lb.arn}`,
        x: COL.lb.x,
        y: lbTop,
        w: COL.lb.w,
        lines: [
          { text: lb.name, cls: "title" },
          { text: lb.scheme, cls: "muted" },
          { text: `${lb.listeners.length} listener${lb.listeners.length === 1 ? "" : "s"}`, cls: "muted" },
        ],
        label: `load balancer ${lb.name}, ${lb.scheme}`,
        onOpen: () => openLb(lb),
      });
      this.put(`lb|${lb.arn}`, n, COL.lb.x, lbTop, COL.lb.w, lbAt);
      for (const l of lb.listeners) {
        const la = this.anchors.get(`listener|${l.arn}`);
        this.edges.push(edge(COL.lb.x + COL.lb.w, lbTop + 18, COL.listener.x, la.y + 18));
      }
      y = Math.max(y, lbTop + n.height + GAP) + GAP;
    }
    return y;
  }

  listener(lb, l, top) {
    let y = top;
    const at = this.nodes.length;
    for (const r of l.rules) y = this.rule(lb, l, r, y);
    const n = node({
      kind: "listener",
      key: `listener|${l.arn}`,
      x: COL.listener.x,
      y: top,
      w: COL.listener.w,
      lines: [
        { text: `${l.protocol}:${l.port}`, cls: "title" },
        { text: `local ${l.url.replace(/^https?:\/\//, "").replace(/\/$/, "")}`, cls: "muted" },
        { text: `${l.rules.length - 1} rule${l.rules.length === 2 ? "" : "s"} + default`, cls: "muted" },
      ],
      label: `listener ${l.protocol}:${l.port} of ${lb.name}, served on ${l.url}`,
      onOpen: () => openListener(lb, l),
    });
    this.put(`listener|${l.arn}`, n, COL.listener.x, top, COL.listener.w, at);
    for (const r of l.rules) {
      const ra = this.anchors.get(ruleKey(l, r));
      this.edges.push(edge(COL.listener.x + COL.listener.w, top + 18, COL.rule.x, ra.y + 18));
    }
    return Math.max(y, top + n.height + GAP);
  }

  rule(lb, l, r, y) {
    const n = node({
      kind: "rule",
      key: ruleKey(l, r),
      x: COL.rule.x,
      y,
      w: COL.rule.w,
      cls: r.is_default ? "default" : "",
      lines: [{ text: ruleTitle(r), cls: "title" }, ...conditionLines(r), ...actionLines(r)],
      label: `${ruleTitle(r)} of ${lb.name} ${l.protocol}:${l.port}: ${
        r.is_default ? "" : r.conditions.map((c) => c.text).join(" and ") + "; "
      }${r.actions.map((a) => a.text).join(", then ")}`,
      onOpen: () => openRule(lb, l, r),
    });
    this.put(ruleKey(l, r), n, COL.rule.x, y, COL.rule.w);
    return y + n.height + GAP;
  }

  ruleEdges() {
    for (const lb of this.topo.load_balancers)
      for (const l of lb.listeners)
        for (const r of l.rules) {
          const ra = this.anchors.get(ruleKey(l, r));
          for (const a of r.actions)
            for (const t of a.target_groups ?? []) {
              const ta = this.anchors.get(`tg|${t.arn}`);
              if (ta) this.edges.push(edge(COL.rule.x + COL.rule.w, ra.y + 18, COL.tg.x, ta.y + 18));
            }
        }
  }

  // ---- right side: target groups in the order the rules first forward to them, then the others ---------
  groupOrder() {
    const order = [];
    for (const lb of this.topo.load_balancers)
      for (const l of lb.listeners)
        for (const r of l.rules)
          for (const a of r.actions)
            for (const t of a.target_groups ?? []) if (!order.includes(t.arn)) order.push(t.arn);
    for (const tg of this.topo.target_groups) if (!order.includes(tg.arn)) order.push(tg.arn);
    return order.map((arn) => this.topo.target_groups.find((g) => g.arn === arn)).filter(Boolean);
  }

  targetGroup(tg) {
    const healthy = tg.targets.filter((t) => t.state === "healthy").length;
    const top = this.ry;
    const n = node({
      kind: "tg",
      key: `tg|${tg.arn}`,
      x: COL.tg.x,
      y: top,
      w: COL.tg.w,
      lines: [
        { text: tg.name, cls: "title" },
        {
          text: `${tg.protocol}:${tg.port} · health ${tg.health_check.enabled ? tg.health_check.path ?? "/" : "off"}`,
          cls: "muted",
        },
        { text: `${healthy} of ${tg.targets.length} target${tg.targets.length === 1 ? "" : "s"} healthy` },
      ],
      label: `target group ${tg.name}: ${healthy} of ${tg.targets.length} targets healthy`,
      onOpen: () => openTg(tg.arn),
    });
    this.put(`tg|${tg.arn}`, n, COL.tg.x, top, COL.tg.w);
    this.ry += n.height + 4;
    for (const t of tg.targets) this.target(tg, t);
    this.ry += 6;
    for (const name of tg.services) {
      const svc = this.topo.services.find((x) => x.name === name);
      if (svc && !this.placed.has(name)) this.service(svc);
      const sa = this.anchors.get(`service|${name}`);
      if (sa) {
        // the group's services hang under it: a line in the gutter at the left of the column
        const gx = COL.tg.x - 8;
        this.edges.push(s("path", { class: "edge", d: `M${COL.tg.x},${top + 18} H${gx} V${sa.y + 18} H${COL.tg.x}` }));
      }
    }
    this.ry += GAP;
  }

  target(tg, t) {
    const key = `target|${tg.arn}|${t.key}`;
    const tn = node({
      kind: "target",
      key,
      x: COL.tg.x + 14,
      y: this.ry,
      w: COL.tg.w - 14,
      cls: `state-${t.state}`,
      lines: [
        { text: t.key, right: t.state, rightCls: "state", nowrap: true },
        { text: t.reason ?? (t.task_id ? `task ${short(t.task_id)}` : "registered by hand"), cls: "muted", nowrap: true },
      ],
      tip: targetTip(t),
      label: `target ${t.key}: ${t.state}${t.reason ? `, ${t.reason}` : ""}`,
      onOpen: () => openTarget(tg.arn, t.key),
    });
    tn.g.dataset.state = t.state;
    tn.g.dataset.task = t.task_id ?? "";
    this.put(key, tn, COL.tg.x + 14, this.ry, COL.tg.w - 14);
    this.ry += tn.height + 4;
  }

  service(svc) {
    this.placed.add(svc.name);
    const deps = svc.deployments?.length ?? 0;
    const top = this.ry;
    const n = node({
      kind: "service",
      key: `service|${svc.name}`,
      x: COL.tg.x,
      y: top,
      w: COL.tg.w,
      lines: [
        { text: `service ${svc.name}`, cls: "title" },
        { text: `running ${svc.running} / desired ${svc.desired}${svc.pending ? `, pending ${svc.pending}` : ""}` },
        { text: svc.steady ? "steady" : deps > 1 ? `deploying: ${deps} deployments` : "not steady yet", cls: "muted" },
      ],
      label: `service ${svc.name}: running ${svc.running} of ${svc.desired}, ${svc.steady ? "steady" : "not steady"}`,
      onOpen: () => openService(svc.name),
    });
    this.put(`service|${svc.name}`, n, COL.tg.x, top, COL.tg.w);
    this.ry += n.height + 4;
    for (const t of svc.tasks) this.task(svc, t);
    this.backingOf(svc, top);
    this.ry += GAP;
  }

  task(svc, t) {
    const stopping = STOPPING.has(t.last_status) || t.desired_status === "STOPPED";
    const tn = node({
      kind: "task",
      key: `task|${t.id}`,
      x: COL.tg.x + 14,
      y: this.ry,
      w: COL.tg.w - 14,
      cls: `st-${t.last_status}`,
      lines: [
        { text: `task ${short(t.id)}`, right: t.last_status, rightCls: "state", nowrap: true },
        {
          text: `health ${t.health ?? "UNKNOWN"}${t.target ? ` · target ${t.target_state ?? "–"}` : ""}${
            stopping && t.desired_status === "STOPPED" ? " · stopping" : ""
          }`,
          cls: "muted",
          nowrap: true,
        },
      ],
      tip: `task ${t.id}\n${t.last_status} (desired ${t.desired_status}), health ${t.health}${
        t.target ? `\ntarget ${t.target}: ${t.target_state}${t.target_reason ? ` (${t.target_reason})` : ""}` : ""
      }${t.stopped_reason ? `\nstopping: ${t.stopped_reason}` : ""}`,
      label: `task ${t.id}, ${t.last_status}, health ${t.health}`,
      onOpen: () => openTask(svc.name, t.id),
    });
    this.put(`task|${t.id}`, tn, COL.tg.x + 14, this.ry, COL.tg.w - 14);
    this.ry += tn.height + 4;
  }

  // the backing resources a service uses, beside it (one box each, shared by the services using it)
  backingOf(svc, serviceTop) {
    let y = Math.max(this.by, serviceTop);
    for (const u of svc.uses ?? []) {
      const key = `backing|${u.kind}|${u.name}`;
      let anchor = this.backingPlaced.get(key);
      if (!anchor) {
        const bn = backingNode(u.kind, u.name, y, this.topo.backing);
        this.put(key, bn, COL.backing.x, y, COL.backing.w);
        anchor = this.anchors.get(key);
        this.backingPlaced.set(key, anchor);
        y += bn.height + 6;
        this.by = y;
      }
      this.edges.push(edge(COL.tg.x + COL.tg.w, serviceTop + 18, COL.backing.x, anchor.y + 14, "uses"));
    }
  }

  // backing resources nobody is known to use, at the end of their column
  unusedBacking() {
    const b = this.topo.backing ?? {};
    const rest = [
      ...(b.databases ?? []).map((d) => ["database", d.logical_id]),
      ...(b.secrets ?? []).map((d) => ["secret", d.name]),
      ...(b.parameters ?? []).map((d) => ["parameter", d.name]),
      ...(b.buckets ?? []).map((d) => ["bucket", d.name]),
    ];
    for (const [kind, name] of rest) {
      const key = `backing|${kind}|${name}`;
      if (this.backingPlaced.has(key)) continue;
      const bn = backingNode(kind, name, this.by, this.topo.backing);
      this.put(key, bn, COL.backing.x, this.by, COL.backing.w);
      this.backingPlaced.set(key, this.anchors.get(key));
      this.by += bn.height + 6;
    }
  }
}

function ruleKey(l, r) {
  return `rule|${l.arn}|${r.arn ?? "default"}`;
}

function layout(topo) {
  return new Layout(topo).run();
}

function backingDoc(kind, name, backing) {
  const b = backing ?? {};
  if (kind === "database") return (b.databases ?? []).find((d) => d.logical_id === name);
  if (kind === "secret") return (b.secrets ?? []).find((d) => d.name === name);
  if (kind === "parameter") return (b.parameters ?? []).find((d) => d.name === name);
  if (kind === "bucket") return (b.buckets ?? []).find((d) => d.name === name);
  return null;
}

function backingNode(kind, name, y, backing) {
  const doc = backingDoc(kind, name, backing);
  let extra = "";
  if (kind === "database" && doc) extra = `${doc.engine} · ${doc.state}`;
  else if (kind === "secret" && doc) extra = `${doc.versions} version${doc.versions === 1 ? "" : "s"}`;
  else if (kind === "parameter" && doc) extra = `${doc.type} · v${doc.version}`;
  else if (kind === "bucket" && doc) extra = `${doc.objects} object${doc.objects === 1 ? "" : "s"}`;
  return node({
    kind: "backing",
    key: `backing|${kind}|${name}`,
    x: COL.backing.x,
    y,
    w: COL.backing.w,
    lines: [{ text: kind, cls: "kw" }, { text: name, cls: "title" }, extra ? { text: extra, cls: "muted" } : null].filter(
      Boolean,
    ),
    label: `${kind} ${name}${extra ? `, ${extra}` : ""}`,
    onOpen: () => openBacking(kind, name),
  });
}

// ---- rendering -------------------------------------------------------------------------------------------
function render() {
  const canvas = $("#topology-canvas");
  const topo = state.topology;
  if (!topo) {
    clear(canvas).append(h("p", { class: "hint", style: "padding: 12px" }, "Loading the topology…"));
    return;
  }
  const focusedKey = document.activeElement?.closest?.("#topology-canvas [data-key]")?.dataset.key ?? null;
  const scroll = [canvas.scrollLeft, canvas.scrollTop];
  const { edges, nodes, height } = layout(topo);
  const captions = [
    ["Load balancers", COL.lb.x],
    ["Listeners", COL.listener.x],
    ["Rules, in evaluation order", COL.rule.x],
    ["Target groups, services", COL.tg.x],
    ["Backing resources", COL.backing.x],
  ].map(([t, x]) => s("text", { x, y: 22, class: "col" }, t));
  const empty = topo.load_balancers.length || topo.services.length
    ? null
    : s("text", { x: 16, y: TOP + 20, class: "muted" }, "Nothing runs yet: the system is starting, or it has no load balancer or service.");
  const svg = s(
    "svg",
    {
      class: "topology",
      width: WIDTH,
      height,
      viewBox: `0 0 ${WIDTH} ${height}`,
      role: "group",
      "aria-label": "The topology of the running system",
    },
    captions,
    s("g", { class: "edges", "aria-hidden": "true" }, edges),
    s("g", { class: "nodes" }, nodes),
    empty,
  );
  clear(canvas).append(svg);
  [canvas.scrollLeft, canvas.scrollTop] = scroll;
  if (focusedKey) {
    const el = [...canvas.querySelectorAll("[data-key]")].find((e) => e.dataset.key === focusedKey);
    if (el) el.focus({ preventScroll: true });
  }
}

// ---- the details, in the drawer --------------------------------------------------------------------------
function kv(pairs) {
  return h(
    "dl",
    { class: "kv" },
    pairs.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "–")]),
  );
}

function findTg(arn) {
  return state.topology?.target_groups.find((g) => g.arn === arn) ?? null;
}

function openLb(lb) {
  openDrawer(`Load balancer ${lb.name}`, () => {
    const now = state.topology.load_balancers.find((x) => x.arn === lb.arn);
    if (!now) return null;
    return h(
      "div",
      {},
      kv([
        ["name", now.name],
        ["DNS name", now.dns_name],
        ["scheme", now.scheme],
        ["ARN", now.arn],
      ]),
      h("h3", {}, "Listeners"),
      h(
        "ul",
        {},
        now.listeners.map((l) => h("li", {}, `${l.protocol}:${l.port} → `, h("a", { href: l.url }, l.url))),
      ),
      h("p", {}, h("a", { href: "#traffic" }, "Traffic of this load balancer")),
    );
  });
}

function openListener(lb, l) {
  openDrawer(`Listener ${l.protocol}:${l.port}`, () =>
    h(
      "div",
      {},
      kv([
        ["load balancer", lb.name],
        ["served on", h("a", { href: l.url }, l.url)],
        ["rules", String(l.rules.length - 1)],
        ["ARN", l.arn],
      ]),
      h("p", {}, h("a", { href: `#rules/${encodeURIComponent(l.arn)}` }, "Test a request against this listener's rules")),
    ),
  );
}

function openRule(lb, l, r) {
  openDrawer(`${ruleTitle(r)} · ${lb.name} ${l.protocol}:${l.port}`, () => {
    const lnow = state.topology.load_balancers.flatMap((x) => x.listeners).find((x) => x.arn === l.arn);
    const rnow = lnow?.rules.find((x) => (x.arn ?? "default") === (r.arn ?? "default"));
    if (!rnow) return null;
    return h(
      "div",
      {},
      kv([
        ["priority", rnow.is_default ? "default (last)" : String(rnow.priority)],
        ["ARN", rnow.arn ?? "(the listener's default actions)"],
      ]),
      h("h3", {}, "Conditions (all must match; the values of one are alternatives)"),
      rnow.conditions.length
        ? h("ul", {}, rnow.conditions.map((c) => h("li", {}, c.text)))
        : h("p", { class: "hint" }, "None: the default rule applies when no other rule matches."),
      h("h3", {}, "Actions (execution order)"),
      h("ol", {}, rnow.actions.map((a) => h("li", {}, a.text))),
      h("p", {}, h("a", { href: `#rules/${encodeURIComponent(l.arn)}` }, "Test a request against these rules")),
    );
  });
}

function openTg(arn) {
  const tg = findTg(arn);
  openDrawer(`Target group ${tg.name}`, () => {
    const g = findTg(arn);
    if (!g) return null;
    const hc = g.health_check;
    return h(
      "div",
      {},
      kv([
        ["protocol", `${g.protocol}:${g.port}`],
        ["health check", hc.enabled ? `${hc.protocol} ${hc.path} on ${hc.port}, every ${hc.interval_seconds} s (timeout ${hc.timeout_seconds} s), healthy after ${hc.healthy_threshold}, unhealthy after ${hc.unhealthy_threshold}, expects ${hc.matcher}` : "disabled"],
        ["deregistration delay", `${g.deregistration_delay_seconds} s`],
        ["algorithm", g.algorithm],
        ["slow start", `${g.slow_start_seconds} s`],
        ["in use", g.in_use ? "yes" : "no (no listener forwards to it)"],
        ["services", g.services.join(", ") || "none"],
        ["ARN", g.arn],
      ]),
      h("h3", {}, "Targets"),
      targetsTable(g),
    );
  });
}

function targetsTable(g) {
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, h("th", {}, "target"), h("th", {}, "state"), h("th", {}, "reason"), h("th", { class: "num" }, "requests"))),
    h(
      "tbody",
      {},
      g.targets.map((t) =>
        h("tr", {}, h("td", { class: "mono" }, t.key), h("td", {}, stateBadge(t.state)), h("td", {}, t.reason ?? "–"), h("td", { class: "num" }, String(t.requests))),
      ),
    ),
  );
}

function openTarget(arn, key) {
  openDrawer(`Target ${key}`, () => {
    const g = findTg(arn);
    const t = g?.targets.find((x) => x.key === key);
    if (!t) return null;
    const [id, port] = [t.id, t.port];
    const btn = h("button", { type: "button", class: "danger", id: "act-deregister" }, "Deregister target…");
    btn.addEventListener("click", () =>
      runAction(
        "deregister-target",
        { target_group_arn: arn, id, port },
        {
          title: `Deregister ${key}`,
          text: `Deregister ${key} from ${g.name}? It drains for ${g.deregistration_delay_seconds} s (requests in flight finish), then leaves the group, as DeregisterTargets does. A service's scheduler may register its task again.`,
          ok: "Deregister",
          done: (a) => (a.was_registered ? `${key} is deregistering (draining)` : `${key} was not registered`),
        },
      ),
    );
    return h(
      "div",
      {},
      h("p", {}, stateBadge(t.state)),
      kv([
        ["target group", g.name],
        ["state", t.state],
        ["reason code", t.reason ?? "none"],
        ["description", t.description ?? "–"],
        ["task", t.task_id ? h("a", { href: "#", on: { click: (ev) => { ev.preventDefault(); openTaskById(t.task_id); } } }, t.task_id) : "registered by hand"],
        ["requests", String(t.requests)],
        ["in flight", String(t.outstanding)],
      ]),
      h("div", { class: "actions" }, btn),
    );
  });
}

function findTask(id) {
  for (const svc of state.topology?.services ?? []) {
    const t = svc.tasks.find((x) => x.id === id);
    if (t) return [svc, t];
  }
  return [null, null];
}

function openTaskById(id) {
  const [svc] = findTask(id);
  if (svc) openTask(svc.name, id);
}

export function stopTaskButton(taskId, serviceName, compact = false) {
  const btn = h(
    "button",
    { type: "button", class: "danger", id: `act-stop-${taskId}`, "aria-label": `Stop task ${taskId}` },
    compact ? "Stop…" : "Stop task…",
  );
  btn.addEventListener("click", () =>
    runAction(
      "stop-task",
      { task_id: taskId },
      {
        title: `Stop task ${short(taskId)}`,
        text: `Stop task ${taskId}${serviceName ? ` of ${serviceName}` : ""}? Its target drains first; the service starts a replacement to keep its desired count (stop code UserInitiated).`,
        ok: "Stop task",
        done: () => `Task ${short(taskId)} is stopping`,
      },
    ),
  );
  return btn;
}

function openTask(serviceName, id) {
  openDrawer(`Task ${short(id, 12)}`, () => {
    const [svc, t] = findTask(id);
    if (!t) return h("p", { class: "hint" }, `Task ${id} has stopped (see the service page for its stop reason).`);
    return h(
      "div",
      {},
      h("p", {}, stateBadge(t.last_status), " ", t.health ? stateBadge(t.health) : null),
      kv([
        ["service", h("a", { href: `#services/${encodeURIComponent(svc.name)}` }, svc.name)],
        ["task", t.id],
        ["status", `${t.last_status} (desired ${t.desired_status})`],
        ["health", t.health],
        ["deployment", t.deployment],
        ["task definition", t.task_definition?.split("/").pop()],
        ["target", t.target ? `${t.target}: ${t.target_state ?? "–"}${t.target_reason ? ` (${t.target_reason})` : ""}` : "none"],
        ["started", t.started_at ? `${clock(t.started_at)} (${ago(t.started_at)})` : "not yet"],
        t.stopped_reason ? ["stopping because", t.stopped_reason] : null,
      ]),
      h("h3", {}, "Containers"),
      h("ul", {}, t.containers.map((c) => h("li", {}, `${c.name}: ${c.last_status}, health ${c.health}${c.stand_in ? " (stand-in)" : ""}${c.exit_code !== null ? `, exit ${c.exit_code}` : ""}`))),
      h(
        "div",
        { class: "actions" },
        t.desired_status !== "STOPPED" ? stopTaskButton(t.id, svc.name) : h("span", { class: "hint" }, "Stopping."),
        h("a", { href: `#logs/task/${encodeURIComponent(t.id)}` }, "Its log"),
      ),
    );
  });
}

function openService(name) {
  openDrawer(`Service ${name}`, () => {
    const svc = state.topology.services.find((x) => x.name === name);
    if (!svc) return null;
    return h(
      "div",
      {},
      kv([
        ["status", svc.status],
        ["desired / running / pending", `${svc.desired} / ${svc.running} / ${svc.pending}`],
        ["steady", svc.steady ? "yes" : "no"],
        ["cluster", svc.cluster],
        ["task definition", svc.task_definition?.split("/").pop()],
        ["deployments", svc.deployments.map((d) => `${d.id} ${d.status} ${d.rollout_state}`).join("; ")],
        ["uses", (svc.uses ?? []).map((u) => `${u.kind} ${u.name}`).join(", ") || "nothing known"],
      ]),
      h("p", {}, h("a", { href: `#services/${encodeURIComponent(name)}` }, "Deployments, events, tasks and scaling, with its actions")),
    );
  });
}

function openBacking(kind, name) {
  openDrawer(`${kind} ${name}`, () => {
    const doc = backingDoc(kind, name, state.topology.backing);
    const users = state.topology.services.filter((svc) => (svc.uses ?? []).some((u) => u.kind === kind && u.name === name));
    const pairs = doc ? Object.entries(doc).map(([k, v]) => [k, String(v)]) : [["name", name]];
    return h(
      "div",
      {},
      kv(pairs),
      h("p", {}, users.length ? `Used by ${users.map((u) => u.name).join(", ")}.` : "No service is known to use it."),
      h("p", { class: "hint" }, "Secret values are never shown here; database passwords are masked."),
    );
  });
}

export function isVisible() {
  return visible && currentPage() === "topology";
}
