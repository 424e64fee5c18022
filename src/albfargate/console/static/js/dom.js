// dom.js: small helpers every page uses. Elements are built with h() (HTML) and s() (SVG), never from
// HTML strings, so nothing the server sends is ever parsed as markup. Also: formatting of times,
// durations and numbers; text measuring and wrapping for the SVG picture; keyboard activation; the
// tooltip shown on hover and on focus.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") el.textContent = String(v);
    else if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === "dataset") for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
    else if (k === "class" && Array.isArray(v)) el.setAttribute("class", v.filter(Boolean).join(" "));
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function $(sel, root = document) {
  return root.querySelector(sel);
}

// ---- activation: click, Enter and Space (for elements that are not native buttons) -------------------
export function activate(el, fn) {
  el.addEventListener("click", (ev) => fn(ev));
  el.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" || ev.key === " " || ev.key === "Spacebar") {
      ev.preventDefault();
      fn(ev);
    }
  });
  return el;
}

// ---- the clock: server times are wall-clock epoch seconds; keep the offset to the server's clock ------
let skew = 0;
export function setServerNow(serverNow) {
  skew = serverNow - Date.now() / 1000;
}
export function now() {
  return Date.now() / 1000 + skew;
}

// ---- formatting ----------------------------------------------------------------------------------------
const pad = (n, w = 2) => String(n).padStart(w, "0");

export function clock(t, ms = false) {
  if (t === null || t === undefined) return "–";
  const d = new Date(t * 1000);
  const base = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return ms ? `${base}.${pad(d.getMilliseconds(), 3)}` : base;
}

export function ago(t) {
  if (t === null || t === undefined) return "–";
  const d = Math.max(0, now() - t);
  if (d < 1) return "just now";
  if (d < 90) return `${Math.round(d)} s ago`;
  if (d < 5400) return `${Math.round(d / 60)} min ago`;
  return `${(d / 3600).toFixed(1)} h ago`;
}

export function duration(sec) {
  if (sec === null || sec === undefined || sec < 0) return "–";
  if (sec < 0.001) return `${(sec * 1e6).toFixed(0)} µs`;
  if (sec < 1) return `${(sec * 1000).toFixed(sec < 0.01 ? 2 : 1)} ms`;
  return `${sec.toFixed(2)} s`;
}

export function num(n, digits = 1) {
  if (n === null || n === undefined || Number.isNaN(n)) return "–";
  if (Math.abs(n) >= 1000) return `${(n / 1000).toFixed(1)}k`;
  return Number.isInteger(n) ? String(n) : n.toFixed(digits);
}

export function short(id, n = 8) {
  if (!id) return "–";
  return id.length > n ? id.slice(0, n) : id;
}

// the last part of an ARN, or the name in it
export function arnTail(arn) {
  if (!arn) return "";
  const parts = arn.split("/");
  return parts.length > 1 ? parts.slice(1).join("/") : arn;
}

// ---- text measuring and wrapping (the SVG has no text flow of its own) ---------------------------------
let measureCtx = null;
export function textWidth(text, font = "12px system-ui") {
  if (!measureCtx) measureCtx = document.createElement("canvas").getContext("2d");
  measureCtx.font = font;
  return measureCtx.measureText(text).width;
}

// words to lines of at most `width` px; an overlong word is cut by characters
export function wrap(text, width, font = "12px system-ui", maxLines = 6) {
  const words = String(text).split(/\s+/).filter(Boolean);
  const lines = [];
  let line = "";
  const push = (l) => {
    if (lines.length < maxLines) lines.push(l);
  };
  for (let w of words) {
    while (textWidth(w, font) > width) {
      let cut = w.length - 1;
      while (cut > 1 && textWidth(w.slice(0, cut), font) > width) cut--;
      if (line) {
        push(line);
        line = "";
      }
      push(w.slice(0, cut));
      w = w.slice(cut);
    }
    const next = line ? `${line} ${w}` : w;
    if (textWidth(next, font) > width && line) {
      push(line);
      line = w;
    } else line = next;
  }
  if (line) push(line);
  const total = words.length ? lines.length : 0;
  if (total === maxLines && lines.join(" ").length < String(text).trim().length) {
    lines[maxLines - 1] = `${lines[maxLines - 1].slice(0, -1)}…`;
  }
  return lines.length ? lines : [""];
}

// one line cut to `width` px with an ellipsis
export function ellipsis(text, width, font = "12px system-ui") {
  const str = String(text);
  if (textWidth(str, font) <= width) return str;
  let n = str.length;
  while (n > 1 && textWidth(`${str.slice(0, n)}…`, font) > width) n--;
  return `${str.slice(0, n)}…`;
}

// ---- the tooltip: on hover and on focus, for every element with data-tip ------------------------------
export function installTooltip() {
  const tip = document.getElementById("tooltip");
  let owner = null;
  const show = (el) => {
    const text = el.getAttribute("data-tip");
    if (!text) return;
    owner = el;
    tip.textContent = text;
    tip.hidden = false;
    const r = el.getBoundingClientRect();
    const tr = tip.getBoundingClientRect();
    let x = r.left;
    let y = r.bottom + 6;
    if (x + tr.width > window.innerWidth - 8) x = window.innerWidth - tr.width - 8;
    if (y + tr.height > window.innerHeight - 8) y = r.top - tr.height - 6;
    tip.style.left = `${Math.max(8, x)}px`;
    tip.style.top = `${Math.max(8, y)}px`;
  };
  const hide = (el) => {
    if (el === undefined || el === owner) {
      tip.hidden = true;
      owner = null;
    }
  };
  const find = (ev) => (ev.target instanceof Element ? ev.target.closest("[data-tip]") : null);
  document.addEventListener("mouseover", (ev) => {
    const el = find(ev);
    if (el) show(el);
  });
  document.addEventListener("mouseout", (ev) => {
    const el = find(ev);
    if (el && !el.contains(ev.relatedTarget)) hide(el);
  });
  document.addEventListener("focusin", (ev) => {
    const el = find(ev);
    if (el) show(el);
    else hide();
  });
  document.addEventListener("focusout", (ev) => {
    const el = find(ev);
    if (el) hide(el);
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") hide();
  });
  return { refresh: () => owner && document.contains(owner) ? show(owner) : hide() };
}

// ---- a small throttle: run fn at most once per `ms`, the last call wins --------------------------------
export function throttle(fn, ms) {
  let timer = null;
  let pending = false;
  return () => {
    if (timer) {
      pending = true;
      return;
    }
    fn();
    timer = setTimeout(function tick() {
      timer = null;
      if (pending) {
        pending = false;
        fn();
        timer = setTimeout(tick, ms);
      }
    }, ms);
  };
}

export function stateBadge(state, label) {
  return h("span", { class: `badge st-${state}` }, label ?? state ?? "–");
}
