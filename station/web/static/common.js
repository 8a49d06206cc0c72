// Shared by the kiosk, PDA and supervisor pages: i18n, sounds, API calls, live events, scanner input.
"use strict";

const I18N = {
  en: {
    tap_badge: "Tap your badge", signed_in_as: "Signed in", order: "Order", tote: "Tote", packaging: "Box",
    sku: "SKU", item: "Item", scanned: "Scanned", scale: "Scale", expected: "Expected", allowed: "allowed",
    stable: "stable", moving: "moving…", disconnected: "scale disconnected", not_responding: "scale not responding", scan_here: "Scan or type a code, then Enter",
    send: "Send", reweigh: "Re-weigh", cancel: "Stop order", sign_out: "Sign out", take_older: "Take older lot",
    put_back: "Put back", confirm_packed: "Packed ✓", last_scan: "Last scan", priority_orders: "Priority — picked and waiting to be packed",
    ready: "Ready", queue: "to sync", offline: "upstream offline", dead: "dead letters",
    no_order: "Scan an order or tote", demo_devices: "Demo devices (bytes go through the emulators)",
    tap: "Tap badge", scan: "Scan", put_on_scale: "Put on scale", clear_scale: "Empty scale", grams: "grams",
    reason: "Reason", override: "Supervisor override", lang: "中文",
    override_title: "Supervisor override: why?", cancel_title: "Cancel this order: why?",
    other_reason: "Other reason (type it)", confirm: "Confirm", close: "Back",
    r_flyer: "Extra flyer / insert", r_box: "Different box used", r_catalog: "Catalog weight wrong",
    r_damaged: "Older lot damaged", r_customer: "Customer cancelled", r_stock: "Item missing / damaged",
    r_wrong_label: "Wrong label",
    ok: "OK", prompt: "Check", blocked: "Blocked", error: "Refused",
    pick_sign_in: "Sign in", badge_code: "Badge code", pin: "PIN", pick_list: "Pick list", go_to_bin: "Go to bin",
    take: "Take", lot: "Lot", into_tote: "Scan the tote to confirm", orders_to_pick: "Orders to pick",
    no_orders: "Nothing to pick right now", lines: "lines", unit: "item", units: "items", back: "← Orders",
    keyboard: "⌨ Type", scan_bin_label: "Scan the bin label", scan_tote: "Scan tote", scan_items: "Scan each item", scan_short: "Scan here", priority: "priority", logout: "Sign out", stations: "Stations", blocked_parcels: "Blocked parcels",
    escalations: "Open escalations", milestones: "Order milestones", expiring: "Lots expiring soon", audit: "Audit log",
    rejected: "Rejected input (kept for review)", h_device: "Device", h_raw: "Received",
    acknowledge: "Acknowledge", refresh: "Refresh", supervisor: "Supervisor", sup_sign_in_hint: "Supervisors only: sign in with your badge code and PIN.",
    not_supervisor: "Only a supervisor can open this page.",
    h_station: "Station", h_operator: "Operator", h_order: "Order", h_state: "State", h_scale: "Scale", h_to_sync: "To sync",
    h_level: "Level", h_due: "Due", h_fired: "Sent", h_since: "Since", h_reason: "Reason", h_sku: "SKU", h_lot: "Lot",
    h_bin: "Bin", h_expires: "Expires", h_days: "Days left", h_status: "Status", h_picked: "Picked", h_verified: "Verified",
    h_weighed: "Weighed", h_packed: "Packed", h_synced: "Synced", h_waiting: "Waiting", h_when: "When", h_who: "Who",
    h_action: "Action", h_object: "Object", h_change: "Change", expired: "expired",
  },
  zh: {
    tap_badge: "请刷工卡", signed_in_as: "已登录", order: "订单", tote: "周转箱", packaging: "包装箱",
    sku: "货号", item: "商品", scanned: "已扫", scale: "电子秤", expected: "预期", allowed: "允许",
    stable: "稳定", moving: "不稳定…", disconnected: "电子秤未连接", not_responding: "电子秤无响应", scan_here: "扫描或输入条码后回车",
    send: "发送", reweigh: "重新称重", cancel: "中止此订单", sign_out: "退出", take_older: "取较早批次",
    put_back: "放回", confirm_packed: "已打包 ✓", last_scan: "最近扫描", priority_orders: "优先 — 已拣货待打包",
    ready: "就绪", queue: "待同步", offline: "上游离线", dead: "失败消息",
    no_order: "请扫描订单或周转箱", demo_devices: "演示设备（数据经过模拟器）",
    tap: "刷卡", scan: "扫描", put_on_scale: "放上秤", clear_scale: "清空秤", grams: "克",
    reason: "原因", override: "主管放行", lang: "English",
    override_title: "主管放行：原因？", cancel_title: "取消订单：原因？",
    other_reason: "其他原因（请输入）", confirm: "确认", close: "返回",
    r_flyer: "附加传单/赠品", r_box: "使用了其他包装箱", r_catalog: "目录重量有误",
    r_damaged: "较早批次破损", r_customer: "客户取消", r_stock: "商品缺失/破损", r_wrong_label: "标签错误",
    ok: "通过", prompt: "请确认", blocked: "拦截", error: "拒绝",
    pick_sign_in: "登录", badge_code: "工卡号", pin: "密码", pick_list: "拣货单", go_to_bin: "前往库位",
    take: "拿取", lot: "批次", into_tote: "扫描周转箱确认", orders_to_pick: "待拣订单",
    no_orders: "当前没有待拣订单", lines: "行", unit: "件", units: "件", back: "← 订单",
    keyboard: "⌨ 键盘", scan_bin_label: "请扫描库位标签", scan_tote: "扫描周转箱", scan_items: "逐件扫描商品", scan_short: "在此扫描", priority: "优先", logout: "退出", stations: "工作站", blocked_parcels: "被拦截包裹",
    escalations: "未处理升级", milestones: "订单节点", expiring: "临期批次", audit: "审计日志",
    rejected: "被拒绝的输入（留待复核）", h_device: "设备", h_raw: "收到内容",
    acknowledge: "确认", refresh: "刷新", supervisor: "主管", sup_sign_in_hint: "仅限主管：请输入工卡号和密码登录。",
    not_supervisor: "只有主管可以打开此页面。",
    h_station: "工作站", h_operator: "操作员", h_order: "订单", h_state: "状态", h_scale: "电子秤", h_to_sync: "待同步",
    h_level: "级别", h_due: "到期", h_fired: "已发送", h_since: "自", h_reason: "原因", h_sku: "货号", h_lot: "批次",
    h_bin: "库位", h_expires: "到期日", h_days: "剩余天数", h_status: "状态", h_picked: "已拣", h_verified: "已核验",
    h_weighed: "已称重", h_packed: "已打包", h_synced: "已同步", h_waiting: "等待", h_when: "时间", h_who: "人员",
    h_action: "操作", h_object: "对象", h_change: "变更", expired: "已过期",
  },
};

let LANG = localStorage.getItem("packgate.lang") || document.documentElement.dataset.lang || "en";

function t(key) { return (I18N[LANG] && I18N[LANG][key]) || I18N.en[key] || key; }

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
// ok = two rising beeps, prompt = two even chimes, error = a long low buzz.
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

const STATUS_ICON = { ok: "✓", prompt: "!", blocked: "✕", error: "✕", idle: "" };

// The big coloured verdict box shared by the kiosk and the PDA.
function showVerdict(v, opts) {
  const box = document.getElementById("verdict");
  const status = v ? v.status : "idle";
  box.className = status;
  box.dataset.status = status;
  box.dataset.code = (v && v.code) || "";
  const icon = document.getElementById("verdict-icon");
  if (icon) icon.textContent = STATUS_ICON[status] || "";
  document.getElementById("verdict-title").textContent = v ? t(status) : t("ready");
  const message = document.getElementById("verdict-message");
  message.textContent = v
    ? ((LANG === "zh" && v.message_zh) ? v.message_zh : v.message)
    : ((opts && opts.idleMessage) || "");
  message.classList.toggle("long", message.textContent.length > (LANG === "zh" ? 60 : 110));
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

// POST with a client-chosen idempotency key; a retry after a network error reuses the same key.
async function postAction(path, body, attempts) {
  const payload = Object.assign({ key: newKey() }, body);
  let lastError = null;
  for (let i = 0; i < (attempts || 3); i++) {
    try {
      const response = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
        body: JSON.stringify(payload),
        credentials: "same-origin",
      });
      const data = await response.json();
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
  return { status: "error", code: "network", message: "Network error: " + lastError,
           message_zh: "网络错误：" + lastError, sound: "error", colour: "red" };
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

// ISO 8601 with offset -> "HH:MM" today, else "MM-DD HH:MM" (the full value stays in the title attribute).
function shortTime(iso) {
  if (!iso) return "";
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(iso);
  if (!m) return iso;
  const d = new Date();
  const today = `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  return (`${m[1]}-${m[2]}-${m[3]}` === today ? "" : `${m[2]}-${m[3]} `) + `${m[4]}:${m[5]}`;
}

function timeCell(iso) { return iso ? `<td title="${esc(iso)}">${esc(shortTime(iso))}</td>` : "<td></td>"; }

function esc(text) {
  return String(text == null ? "" : text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
