// ruletest.js: the rule tester page (#rules[/LISTENER_ARN]). A request (method, path, host, headers, query,
// source IP) goes to POST /api/rule-test, which evaluates it with the listener's own rule engine over
// its live rules; the page shows which rule matched, why each earlier one did not (every condition), the
// action that follows, and the rules after the match as not evaluated. Nothing is sent to the listener.

import { state, subscribe, currentPage } from "./app.js";
import * as api from "./api.js";
import { $, h, clear } from "./dom.js";

let wanted = null; // a listener named by the route

export function init() {
  $("#rule-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    test();
  });
  subscribe((kind) => {
    if (currentPage() === "rules" && kind === "topology") fillListeners();
  });
}

export function show(arg) {
  if (arg) wanted = arg;
  fillListeners();
}

export function hide() {}

function listeners() {
  return (state.topology?.load_balancers ?? []).flatMap((lb) => lb.listeners.map((l) => ({ lb, l })));
}

function fillListeners() {
  const sel = $("#rule-listener");
  const keep = wanted ?? sel.value;
  const items = listeners();
  const have = [...sel.options].map((o) => o.value).join(" ");
  if (have !== items.map(({ l }) => l.arn).join(" ")) {
    clear(sel);
    for (const { lb, l } of items) {
      sel.append(h("option", { value: l.arn }, `${lb.name} ${l.protocol}:${l.port} (${l.rules.length - 1} rules + default)`));
    }
  }
  if (keep && items.some(({ l }) => l.arn === keep)) sel.value = keep;
  wanted = null;
}

// "Name: value" lines to header pairs
export function parseHeaders(text) {
  const out = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const i = line.indexOf(":");
    if (i <= 0) throw new Error(`header line ${JSON.stringify(line)}: write it as Name: value`);
    out.push([line.slice(0, i).trim(), line.slice(i + 1).trim()]);
  }
  return out;
}

async function test() {
  const form = $("#rule-form");
  const out = clear($("#rule-result"));
  const f = new FormData(form);
  let headers;
  try {
    headers = parseHeaders(String(f.get("headers") ?? ""));
  } catch (err) {
    out.append(h("p", { class: "verdict no", role: "alert" }, err.message));
    return;
  }
  const body = {
    listener_arn: f.get("listener_arn") || undefined,
    method: String(f.get("method") || "GET").trim().toUpperCase(),
    path: String(f.get("path") || "/"),
    host: String(f.get("host") || "").trim() || null,
    headers,
    query: String(f.get("query") || "").replace(/^\?/, ""),
    source_ip: String(f.get("source_ip") || "").trim() || undefined,
  };
  let answer;
  try {
    answer = await api.post("/api/rule-test", body);
  } catch (err) {
    out.append(h("p", { class: "verdict no", role: "alert" }, `The tester refused: ${err.message}`));
    return;
  }
  render(out, body, answer);
}

function ruleName(r) {
  return r.is_default ? "the default rule" : `rule ${r.priority}`;
}

function render(out, body, answer) {
  const m = answer.matched;
  out.dataset.matchedPriority = String(m.priority);
  out.dataset.matchedDefault = String(m.is_default);
  const verdict = h(
    "div",
    { class: "verdict", id: "rule-verdict" },
    h("strong", {}, m.is_default ? "No rule matches: the default rule applies." : `Matches rule ${m.priority}.`),
    " ",
    `${body.method} ${body.path}${body.query ? `?${body.query}` : ""}${body.host ? ` (Host ${body.host})` : ""}`,
    h("br"),
    "Then: ",
    h("span", { id: "rule-action" }, answer.actions.map((a) => a.text).join(", then ")),
  );
  const evaluated = answer.rules.map((r) =>
    h(
      "li",
      { class: r.matched ? "matched" : "", dataset: { priority: r.priority, matched: r.matched } },
      h("strong", {}, ruleName(r)),
      " — ",
      r.matched ? h("span", { class: "yes" }, "matches") : h("span", { class: "no" }, "does not match"),
      r.why ? ` (${r.why})` : "",
      r.conditions.length
        ? h(
            "ul",
            {},
            r.conditions.map((c) =>
              h(
                "li",
                {},
                c.matched ? h("span", { class: "yes", "aria-label": "matches" }, "✓ ") : h("span", { class: "no", "aria-label": "does not match" }, "✗ "),
                h("strong", {}, c.text),
                `: ${c.why}`,
              ),
            ),
          )
        : null,
    ),
  );
  // the listener's rules after the match: not evaluated (the listener stops at the first match)
  const listener = listeners().find(({ l }) => l.arn === answer.listener_arn)?.l;
  const after = [];
  if (listener && !m.is_default) {
    const i = listener.rules.findIndex((r) => r.priority === m.priority && !r.is_default);
    for (const r of listener.rules.slice(i + 1)) {
      after.push(
        h("li", { class: "skipped", dataset: { priority: r.priority, matched: "skipped" } }, h("strong", {}, ruleName(r)), " — not evaluated: an earlier rule matched"),
      );
    }
  }
  out.append(verdict, h("h3", {}, "Rules, in evaluation order"), h("ol", { class: "rules-eval", id: "rule-steps" }, evaluated, after));
}
