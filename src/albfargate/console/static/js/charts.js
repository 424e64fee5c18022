// charts.js: small line charts drawn as SVG (no chart library): a time axis over a window, one polyline
// per line, gaps where a value is null (no sample in that interval), the y scale from 0 to the largest
// value, and the last value of each line in the legend. Pure of page state: data in, an element out.

import { h, s, clock, num } from "./dom.js";

const W = 360;
const H = 120;
const M = { left: 38, right: 8, top: 8, bottom: 18 };

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

// lines: [{label, colour, dash, values: [[t, v|null], ...]}]
export function lineChart({ title, unit, lines, t0, t1, format = (v) => num(v) }) {
  const max = niceMax(Math.max(0, ...lines.flatMap((l) => l.values.map(([, v]) => (v === null ? 0 : v)))));
  const x = (t) => M.left + ((t - t0) / Math.max(1, t1 - t0)) * (W - M.left - M.right);
  const y = (v) => H - M.bottom - (v / max) * (H - M.top - M.bottom);
  const grid = [0, 0.5, 1].map((f) =>
    s(
      "g",
      {},
      s("line", { class: "grid", x1: M.left, x2: W - M.right, y1: y(max * f), y2: y(max * f) }),
      s("text", { x: M.left - 4, y: y(max * f) + 3, "text-anchor": "end" }, format(max * f)),
    ),
  );
  const polylines = [];
  for (const l of lines) {
    let seg = [];
    const flush = () => {
      if (seg.length === 1) {
        polylines.push(s("circle", { cx: seg[0][0].toFixed(1), cy: seg[0][1].toFixed(1), r: 1.8, fill: l.colour }));
      } else if (seg.length) {
        polylines.push(
          s("polyline", {
            points: seg.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(" "),
            stroke: l.colour,
            "stroke-dasharray": l.dash ? "4 3" : null,
          }),
        );
      }
      seg = [];
    };
    for (const [t, v] of l.values) {
      if (t < t0) continue;
      if (v === null || v === undefined) flush();
      else seg.push([x(t), y(v)]);
    }
    flush();
  }
  const last = (l) => {
    for (let i = l.values.length - 1; i >= 0; i--) if (l.values[i][1] !== null) return l.values[i][1];
    return null;
  };
  const svg = s(
    "svg",
    { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${title}: ${lines.map((l) => `${l.label} ${format(last(l) ?? 0)}${unit}`).join(", ")}` },
    grid,
    s("text", { x: M.left, y: H - 4 }, clock(t0)),
    s("text", { x: W - M.right, y: H - 4, "text-anchor": "end" }, "now"),
    polylines,
  );
  return h(
    "figure",
    { class: "chart" },
    svg,
    h(
      "figcaption",
      {},
      h("strong", {}, title),
      lines.map((l) =>
        h(
          "span",
          { class: "key" },
          h("i", { class: l.dash ? "dash" : "", style: l.dash ? `border-color: ${l.colour}` : `background: ${l.colour}` }),
          `${l.label} ${last(l) === null ? "–" : format(last(l))}${unit}`,
        ),
      ),
    ),
  );
}
