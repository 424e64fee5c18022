// logs.js: the logs page (#logs, #logs/task/ID, #logs/service/NAME, #logs/access/LB): each task's
// container output and each load balancer's access log. The last lines come from /api/logs/tail, then the
// log is followed live on its own event stream (/api/logs/stream, from the offset the tail ended at);
// the filter is applied by the server to both, and the matches are marked.

import { state, subscribe, currentPage } from "./app.js";
import * as api from "./api.js";
import { $, h, clear, short, throttle } from "./dom.js";

const MAX_SHOWN = 2000;
let catalogue = { tasks: [], access: [] };
let stream = null;
let wanted = null; // what the route asked for: ["task", id] | ["service", name] | ["access", lb]
let generation = 0;

export function init() {
  const form = $("#logs-form");
  form.addEventListener("submit", (ev) => ev.preventDefault());
  form.addEventListener("change", () => open());
  let typing = null;
  form.elements.filter.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => open(), 300);
  });
  subscribe((kind, data) => {
    if (currentPage() === "logs" && kind === "task" && data.task.last_status === "PROVISIONING") refreshCatalogue();
  });
}

export async function show(arg) {
  if (arg) {
    const [kind, ...rest] = arg.split("/");
    wanted = [kind, decodeURIComponent(rest.join("/"))];
  }
  await loadCatalogue();
  open();
}

export function hide() {
  close();
}

const refreshCatalogue = throttle(() => loadCatalogue(), 2000);

function optionValue(src) {
  return src.access ? `access|${src.access}` : `task|${src.task}|${src.container}`;
}

async function loadCatalogue() {
  try {
    catalogue = await api.get("/api/logs");
  } catch (err) {
    $("#logs-note").textContent = `The logs: ${err.message}`;
    return;
  }
  const sel = $("#logs-source");
  const keep = sel.value;
  clear(sel);
  if (catalogue.access.length) {
    sel.append(
      h(
        "optgroup",
        { label: "Access logs" },
        catalogue.access.map((a) => h("option", { value: optionValue({ access: a.load_balancer }) }, `access log of ${a.load_balancer}`)),
      ),
    );
  }
  const byService = new Map();
  for (const t of catalogue.tasks) {
    const key = t.service ?? "(no service)";
    if (!byService.has(key)) byService.set(key, []);
    byService.get(key).push(t);
  }
  const running = new Set((state.topology?.services ?? []).flatMap((svc) => svc.tasks.map((t) => t.id)));
  for (const [service, tasks] of byService) {
    sel.append(
      h(
        "optgroup",
        { label: `Tasks of ${service}` },
        tasks.map((t) =>
          h(
            "option",
            { value: optionValue({ task: t.task_id, container: t.container }) },
            `task ${short(t.task_id)} / ${t.container}${running.has(t.task_id) ? "" : " (stopped)"}`,
          ),
        ),
      ),
    );
  }
  const values = [...sel.options].map((o) => o.value);
  let pick = values.includes(keep) ? keep : null;
  if (wanted) {
    const [kind, name] = wanted;
    if (kind === "task") pick = values.find((v) => v.startsWith(`task|${name}|`)) ?? pick;
    if (kind === "access") pick = values.find((v) => v === `access|${name}`) ?? pick;
    if (kind === "service") {
      const t = catalogue.tasks.find((x) => x.service === name && running.has(x.task_id)) ?? catalogue.tasks.find((x) => x.service === name);
      if (t) pick = optionValue({ task: t.task_id, container: t.container });
    }
    wanted = null;
  }
  if (!pick) {
    const firstTask = values.find((v) => v.startsWith("task|"));
    pick = firstTask ?? values[0] ?? "";
  }
  sel.value = pick;
}

function close() {
  if (stream) {
    stream.close();
    stream = null;
  }
}

function sourceQuery(value) {
  const [kind, a, b] = value.split("|");
  return kind === "access" ? { access: a } : { task: a, container: b };
}

function lineEl(line, needle) {
  if (!needle) return h("span", { class: "line" }, line, "\n");
  const parts = [];
  let i = 0;
  for (;;) {
    const j = line.indexOf(needle, i);
    if (j < 0) break;
    parts.push(line.slice(i, j), h("mark", {}, needle));
    i = j + needle.length;
  }
  parts.push(line.slice(i));
  return h("span", { class: "line" }, parts, "\n");
}

function append(box, lines, needle) {
  const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
  for (const line of lines) box.append(lineEl(line, needle));
  while (box.childElementCount > MAX_SHOWN) box.firstElementChild.remove();
  if (atEnd) box.scrollTop = box.scrollHeight;
}

async function open() {
  close();
  const gen = ++generation;
  const form = $("#logs-form");
  const value = $("#logs-source").value;
  const box = clear($("#logs-lines"));
  const note = $("#logs-note");
  if (!value) {
    note.textContent = "No log yet.";
    return;
  }
  const filter = form.elements.filter.value;
  const lines = form.elements.lines.value;
  const follow = form.elements.follow.checked;
  const q = { ...sourceQuery(value), filter };
  let tail;
  try {
    tail = await api.get(`/api/logs/tail${api.query({ ...q, lines })}`);
  } catch (err) {
    note.textContent = err.message;
    return;
  }
  if (gen !== generation) return;
  box.dataset.source = value;
  append(box, tail.lines, filter);
  box.scrollTop = box.scrollHeight;
  note.textContent = `${tail.lines.length} line${tail.lines.length === 1 ? "" : "s"}${filter ? ` containing "${filter}"` : ""}${follow ? ", following" : ""}.`;
  if (!follow) return;
  stream = new EventSource(`/api/logs/stream${api.query({ ...q, offset: tail.offset })}`);
  stream.addEventListener("log", (ev) => {
    if (gen !== generation) return;
    append(box, [JSON.parse(ev.data).line], filter);
    box.dataset.lines = String(box.childElementCount);
  });
  stream.onerror = () => {
    // the browser would reconnect from the same offset and repeat lines: tail again instead
    close();
    note.textContent += " The stream was interrupted; reconnecting…";
    setTimeout(() => {
      if (gen === generation && currentPage() === "logs") open();
    }, 2000);
  };
}
