// Shared by the kiosk, PDA and supervisor pages: i18n, sounds, API calls, live events, scanner input.
"use strict";

// Every word of the pages comes from the station's translation catalog (gettext .po through Babel), embedded in
// the page per language: {en: {"page:tap_badge": "Tap your badge", ...}, zh: {...}}.
const TEXTS = JSON.parse(document.getElementById("texts").textContent);

let LANG = localStorage.getItem("packgate.lang") || document.documentElement.dataset.lang || "en";

// t("tap_badge") is a page word; t("order_status:picked"), t("device:connected"), t("action:lot_swap") other words.
function t(key) {
  const full = key.includes(":") ? key : "page:" + key;
  return (TEXTS[LANG] && TEXTS[LANG][full]) || TEXTS.en[full] || key.split(":").pop();
}

// Whether the catalog has `key` ("reason:scale_changed") in any language.
function known(key) {
  return !!((TEXTS[LANG] && TEXTS[LANG][key]) || TEXTS.en[key]);
}

// tn("unit", 3): "3 items" / "3件", the catalog's plural entry "plural:unit" in the page's language; the form is
// chosen by the browser's plural rules (Intl.PluralRules) through the CLDR category of each form (TEXTS[lang]._plural).
function tn(key, n) {
  const lang = TEXTS[LANG] && TEXTS[LANG]["plural:" + key] ? LANG : "en";
  const forms = TEXTS[lang]["plural:" + key];
  if (!forms) return String(n);
  const index = (TEXTS[lang]._plural || []).indexOf(new Intl.PluralRules(lang === "zh" ? "zh-CN" : "en").select(Number(n)));
  return forms[index < 0 ? forms.length - 1 : index].replace("{n}", String(n));
}

// A catalog text with its fields: "{order_id} packed: {units:plural:unit}" (the same syntax as the station's texts).
function fill(template, data) {
  return template.replace(/\{(\w+)(?::plural:(\w+))?\}/g, (whole, name, plural) =>
    data[name] === undefined || data[name] === null ? whole : plural ? tn(plural, data[name]) : String(data[name]));
}

// A phrase as the start of a sentence ("the parcel is blocked" -> "The parcel is blocked").
function sentence(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : "";
}

function applyI18n(root) {
  document.documentElement.lang = LANG === "zh" ? "zh-CN" : "en";
  (root || document).querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  (root || document).querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
}

// no inline handlers: the Content-Security-Policy runs only scripts from /static
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("button[data-i18n=\"lang\"]").forEach((b) => b.addEventListener("click", toggleLang));
});

function toggleLang() {
  LANG = LANG === "en" ? "zh" : "en";
  localStorage.setItem("packgate.lang", LANG);
  applyI18n();
  if (window.onLangChange) window.onLangChange();
}

// Distinct sounds per verdict, synthesised so no audio files are needed:
// ok = two rising beeps, prompt = two even chimes, error = a long low buzz, intercept = a falling three-tone siren,
// review = a four-note door chime (a supervisor is wanted).
const Sound = {
  ctx: null,
  tone(freq, start, dur, type) {
    const ctx = this.ctx;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = type || "sine";
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, ctx.currentTime + start);
    gain.gain.exponentialRampToValueAtTime(0.4, ctx.currentTime + start + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + start + dur);
    osc.connect(gain).connect(ctx.destination);
    osc.start(ctx.currentTime + start);
    osc.stop(ctx.currentTime + start + dur + 0.02);
  },
  play(kind) {
    if (!kind) return;
    // What played last, and how many sounds so far: the e2e tests and a remote screen can read them.
    document.body.dataset.lastSound = kind;
    document.body.dataset.soundCount = String(Number(document.body.dataset.soundCount || 0) + 1);
    try {
      this.ctx = this.ctx || new (window.AudioContext || window.webkitAudioContext)();
      if (this.ctx.state === "suspended") this.ctx.resume();
      if (kind === "ok") { this.tone(880, 0, 0.12); this.tone(1320, 0.14, 0.18); }
      else if (kind === "prompt") { this.tone(660, 0, 0.25, "triangle"); this.tone(660, 0.35, 0.25, "triangle"); }
      else if (kind === "error") { this.tone(180, 0, 0.7, "square"); this.tone(140, 0.05, 0.7, "sawtooth"); }
      else if (kind === "intercept") { [990, 740, 520].forEach((f, i) => this.tone(f, i * 0.3, 0.28, "square")); }
      else if (kind === "review") { [523, 659, 523, 659].forEach((f, i) => this.tone(f, i * 0.2, 0.16, "triangle")); }
    } catch (e) { /* no audio device: the colour still shows the verdict */ }
  },
};
// Browsers only allow audio after a first touch or key press: unlock it then, so the first verdict is heard.
["pointerdown", "keydown"].forEach((kind) => document.addEventListener(kind, () => {
  try {
    Sound.ctx = Sound.ctx || new (window.AudioContext || window.webkitAudioContext)();
    if (Sound.ctx.state === "suspended") Sound.ctx.resume();
  } catch (e) { /* no audio */ }
}, { once: true, capture: true }));

const STATUS_ICON = { ok: "✓", prompt: "!", blocked: "✕", error: "✕", intercepted: "⛔", review: "⚑", idle: "" };

// The big coloured verdict box shared by the kiosk and the PDA. `opts.own`: a text the page made from catalog words
// (not a station verdict, whose message holds data such as names and is marked data-value).
function showVerdict(v, opts) {
  const box = document.getElementById("verdict");
  const status = v ? v.status : "idle";
  box.className = status;
  box.dataset.status = status;
  box.dataset.code = (v && v.code) || "";
  box.dataset.step = (v && v.next) || "";
  const icon = document.getElementById("verdict-icon");
  if (icon) icon.textContent = STATUS_ICON[status] || "";
  document.getElementById("verdict-title").textContent = v ? t("status:" + status) : t("ready");
  const message = document.getElementById("verdict-message");
  message.textContent = v
    ? ((LANG === "zh" && v.message_zh) ? v.message_zh : v.message)
    : ((opts && opts.idleMessage) || "");
  message.classList.toggle("long", message.textContent.length > (LANG === "zh" ? 60 : 110));
  message.toggleAttribute("data-value", !!v && !(opts && opts.own));
  message.removeAttribute("data-i18n");
  document.getElementById("verdict-title").removeAttribute("data-i18n");
  // Restart the flash animation so two refusals in a row are still noticed.
  if (v && opts && opts.flash) { box.classList.remove("flash"); void box.offsetWidth; box.classList.add("flash"); }
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function newKey() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return "k-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
}

// POST with a client-chosen idempotency key; a retry after a network error reuses the same key. `opts.reopen`: a
// page that opens its own session (the kiosk) opens a new one when the station no longer knows its cookie (e.g.
// another page on the same host replaced it) and sends the action again -- it never reached the station.
async function postAction(path, body, attempts, opts) {
  const payload = Object.assign({ key: newKey() }, body);
  let lastError = null;
  let reopened = false;
  for (let i = 0; i < (attempts || 3); i++) {
    try {
      const response = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
        body: JSON.stringify(payload),
        credentials: "same-origin",
      });
      const data = await response.json();
      if (opts && opts.reopen && !reopened && response.status === 401 && data && data.code === "not_signed_in") {
        reopened = true;
        const fresh = await getJSON("/api/v1/csrf");
        const meta = document.querySelector('meta[name="csrf-token"]');
        if (meta && fresh.csrf_token) meta.content = fresh.csrf_token;
        i--;
        continue;
      }
      // signing in or out starts a new server-side session with a new CSRF token
      if (data && data.csrf_token) {
        const meta = document.querySelector('meta[name="csrf-token"]');
        if (meta) meta.content = data.csrf_token;
      }
      return data;
    } catch (e) {
      lastError = e;
      await new Promise((r) => setTimeout(r, 400 * (i + 1)));
    }
  }
  return { status: "error", code: "network", message: `${TEXTS.en["page:network_error"]} (${lastError})`,
           message_zh: `${TEXTS.zh["page:network_error"]}（${lastError}）`, sound: "error", colour: "red" };
}

// Run `work` with `button` disabled and saying "Signing in…" (a PIN check takes a second or two: no double taps).
async function busy(button, work) {
  const label = button.dataset.i18n;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = t("signing_in");
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = t(label);
  }
}

// A "more" button right after `anchor` while a list has a next page (`cursor`); `load` fetches that page.
function moreButton(anchor, cursor, load) {
  let b = anchor.nextElementSibling;
  if (!b || !b.classList.contains("more")) {
    b = document.createElement("button");
    b.type = "button";
    b.className = "more";
    anchor.after(b);
  }
  b.textContent = t("more");
  b.classList.toggle("hidden", !cursor);
  b.onclick = cursor ? () => { b.disabled = true; load(cursor).finally(() => { b.disabled = false; }); } : null;
}

async function getJSON(path) {
  const r = await fetch(path, { credentials: "same-origin" });
  return r.json();
}

function liveEvents(path, handlers) {
  let source = null;
  function connect() {
    source = new EventSource(path);
    Object.entries(handlers).forEach(([kind, fn]) => source.addEventListener(kind, (ev) => fn(JSON.parse(ev.data))));
    source.onerror = () => { document.body.dataset.live = "reconnecting"; };
    source.onopen = () => { document.body.dataset.live = "open"; };
  }
  connect();
  return () => source && source.close();
}

// A keyboard-wedge scanner "types" a code into the focused `input` in a fast burst of key presses.
// The code ends at Enter or Tab (the usual scanner suffixes) or, for scanners set to send no suffix,
// at a pause after a fast burst. Slow typing by a person is never cut short: they press Enter.
function wedgeInput(input, onCode, opts) {
  const idleMs = (opts && opts.idleMs) || 250;      // pause that ends a suffix-less scan
  const burstMs = (opts && opts.burstMs) || 60;     // a scanner types faster than this per key
  const minLength = (opts && opts.minLength) || 4;  // shorter bursts are not taken for a scan
  let timer = null;
  let stamps = [];
  const submit = () => {
    clearTimeout(timer);
    stamps = [];
    const code = input.value.replace(/^[\r\n\t ]+|[\r\n\t ]+$/g, "");  // never strip GS (0x1D)
    input.value = "";
    if (code) onCode(code);
  };
  input.addEventListener("keydown", (ev) => {
    if (ev.isComposing) return;  // an input method (e.g. pinyin) is composing: Enter belongs to it
    if (ev.key === "Enter" || (ev.key === "Tab" && input.value.trim())) { ev.preventDefault(); submit(); }
  });
  input.addEventListener("input", (ev) => {
    clearTimeout(timer);
    const now = performance.now();
    if (!input.value) { stamps = []; return; }
    // A paste or an Android scanner that inserts the whole text at once counts as one fast burst.
    const chunk = (ev && ev.inputType === "insertFromPaste") ? input.value.length - stamps.length
      : ((ev && ev.data && ev.data.length) || 1);
    for (let i = 0; i < chunk; i++) stamps.push(now);
    if (stamps.length > 64) stamps = stamps.slice(-64);
    timer = setTimeout(() => {
      if (input.dataset.autosubmit === "off") return;
      const n = stamps.length;
      const fast = n >= 2 && (stamps[n - 1] - stamps[0]) / (n - 1) < burstMs;
      if (input.value.trim().length >= minLength && fast && n >= input.value.length) submit();
    }, idleMs);
  });
  return submit;
}

// A big-button reason chooser (no tiny browser prompt for gloved hands). Resolves to the reason or null.
function askReason(titleKey, presetKeys) {
  return new Promise((resolve) => {
    const dlg = document.getElementById("reason-dialog");
    dlg.querySelector(".dlg-title").textContent = t(titleKey);
    const presets = dlg.querySelector(".presets");
    presets.innerHTML = presetKeys.map((k) => `<button type="button" class="preset" data-key="${esc(k)}">${esc(t(k))}</button>`).join("");
    const other = dlg.querySelector("input");
    other.value = "";
    other.placeholder = t("other_reason");
    const finish = (value) => { dlg.classList.add("hidden"); document.body.classList.remove("modal-open"); resolve(value); };
    presets.querySelectorAll("button").forEach((b) => (b.onclick = () => finish(t(b.dataset.key))));
    dlg.querySelector(".dlg-ok").textContent = t("confirm");
    dlg.querySelector(".dlg-ok").onclick = () => { if (other.value.trim()) finish(other.value.trim()); else other.focus(); };
    dlg.querySelector(".dlg-close").textContent = t("close");
    dlg.querySelector(".dlg-close").onclick = () => finish(null);
    other.onkeydown = (ev) => { if (ev.key === "Enter") { ev.preventDefault(); dlg.querySelector(".dlg-ok").click(); } };
    dlg.classList.remove("hidden");
    document.body.classList.add("modal-open");
  });
}

// ISO 8601 with offset -> "HH:MM" today, else "MM-DD HH:MM", in this browser's time zone, so times written with
// different offsets (the station's, upstream's) line up (the full value stays in the title attribute).
function shortTime(iso) {
  if (!iso) return "";
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const two = (n) => String(n).padStart(2, "0");
  const now = new Date();
  const today = at.getFullYear() === now.getFullYear() && at.getMonth() === now.getMonth() && at.getDate() === now.getDate();
  return (today ? "" : `${two(at.getMonth() + 1)}-${two(at.getDate())} `) + `${two(at.getHours())}:${two(at.getMinutes())}`;
}

function timeCell(iso) { return iso ? `<td title="${esc(iso)}">${esc(shortTime(iso))}</td>` : "<td></td>"; }

function esc(text) {
  return String(text == null ? "" : text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
