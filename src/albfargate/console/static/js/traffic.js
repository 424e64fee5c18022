// traffic.js: the traffic page (#traffic): for each load balancer, listener, target group and target, live
// charts of requests per second, the target response time (p50 / p99) and the responses by class
// (target-made and ALB-made apart), over the last 15 minutes (or a shorter window). The series come from
// /api/metrics once and then grow by the `metrics` event of every interval (app.js); redrawn at most once
// a second, and only while the page is shown.

import { state, subscribe, currentPage } from "./app.js";
import { $, h, clear, now, num, throttle } from "./dom.js";
import { lineChart } from "./charts.js";

const ORDER = ["load_balancer", "listener", "target_group", "target"];
const SCOPE_WORDS = { load_balancer: "load balancer", listener: "listener", target_group: "target group", target: "target" };
const C = { ok: "#1a7f37", r3: "#0969da", r4: "#bc4c00", r5: "#cf222e", p50: "#0969da", p99: "#8250df", rps: "#24292f" };

export function init() {
  for (const id of ["#traffic-scope", "#traffic-window"]) $(id).addEventListener("change", () => render());
  subscribe((kind) => {
    if (currentPage() === "traffic" && (kind === "metrics" || kind === "topology")) renderSoon();
  });
}

export function show() {
  render();
}

export function hide() {}

const renderSoon = throttle(() => render(), 1000);

function values(points, f) {
  return points.map((p) => [p.t, f(p)]);
}

function ms(v) {
  return v === null || v === undefined ? null : v * 1000;
}

function seriesCard(series, t0, t1, interval) {
  const pts = series.points.filter((p) => p.t >= t0);
  const perSec = (n) => (n === null || n === undefined ? null : n / interval);
  const lbLike = series.scope === "load_balancer" || series.scope === "listener";
  const responses = [
    { label: "target 2xx", colour: C.ok, values: values(pts, (p) => perSec(p.target_2xx)) },
    { label: "target 4xx", colour: C.r4, values: values(pts, (p) => perSec(p.target_4xx)) },
    { label: "target 5xx", colour: C.r5, values: values(pts, (p) => perSec(p.target_5xx)) },
  ];
  if (lbLike) {
    responses.push(
      { label: "ALB 3xx", colour: C.r3, dash: true, values: values(pts, (p) => perSec(p.elb_3xx)) },
      { label: "ALB 4xx", colour: C.r4, dash: true, values: values(pts, (p) => perSec(p.elb_4xx)) },
      { label: "ALB 5xx", colour: C.r5, dash: true, values: values(pts, (p) => perSec(p.elb_5xx)) },
    );
  }
  const total = pts.reduce((n, p) => n + (p.rps ?? 0) * interval, 0);
  const sampled = pts.reduce((n, p) => n + (p.sampled ?? 0), 0);
  return h(
    "section",
    { class: "series", dataset: { scope: series.scope, id: series.id }, "aria-label": `${SCOPE_WORDS[series.scope]} ${series.label}` },
    h(
      "h3",
      {},
      h("span", { class: "scope" }, SCOPE_WORDS[series.scope]),
      series.label,
      h("small", { class: "hint" }, `  ${num(total, 0)} requests in the window, ${num(sampled, 0)} sampled`),
    ),
    h(
      "div",
      { class: "charts" },
      lineChart({ title: "Requests", unit: "/s", t0, t1, lines: [{ label: "rps", colour: C.rps, values: values(pts, (p) => p.rps) }] }),
      lineChart({
        title: "Target response time",
        unit: " ms",
        t0,
        t1,
        format: (v) => num(v, v < 10 ? 2 : 1),
        lines: [
          { label: "p50", colour: C.p50, values: values(pts, (p) => ms(p.p50)) },
          { label: "p99", colour: C.p99, values: values(pts, (p) => ms(p.p99)) },
        ],
      }),
      lineChart({ title: "Responses", unit: "/s", t0, t1, lines: responses }),
    ),
  );
}

function render() {
  if (currentPage() !== "traffic") return;
  const root = $("#traffic-series");
  const scope = $("#traffic-scope").value;
  const windowSec = Number($("#traffic-window").value);
  const interval = state.session?.metrics?.interval_seconds ?? 1;
  const t1 = now();
  const t0 = t1 - windowSec;
  const all = [...state.series.values()]
    .filter((x) => scope === "all" || x.scope === scope)
    .sort((a, b) => ORDER.indexOf(a.scope) - ORDER.indexOf(b.scope) || a.label.localeCompare(b.label));
  $("#traffic-note").textContent =
    "Load balancer and target-group counts are exact (the ALB's own counters, read once a second); listener splits, targets' response classes and the p50/p99 response times come from the requests sampled while a console is open. A gap means no sample in that second.";
  const scrollY = window.scrollY;
  clear(root);
  if (!all.length) {
    root.append(h("p", { class: "hint" }, "No series yet."));
    return;
  }
  root.append(...all.map((x) => seriesCard(x, t0, t1, interval)));
  window.scrollTo(0, scrollY);
}
