// Shared by the kiosk, PDA and supervisor pages: i18n, sounds, API calls, live events, scanner input.
"use strict";

const I18N = {
  en: {
    tap_badge: "Tap your badge", signed_in_as: "Signed in", order: "Order", tote: "Tote", packaging: "Box",
    sku: "SKU", item: "Item", scanned: "Scanned", scale: "Scale", expected: "Expected", allowed: "allowed",
    stable: "stable", moving: "moving", disconnected: "scale disconnected", scan_here: "Scan or type a code, then Enter",
    send: "Send", reweigh: "Re-weigh", cancel: "Cancel order", sign_out: "Sign out", take_older: "Take older lot",
    ready: "Ready", queue: "to sync", offline: "upstream offline", dead: "dead letters",
    no_order: "Scan an order or tote", demo_devices: "Demo devices (bytes go through the emulators)",
    tap: "Tap badge", scan: "Scan", put_on_scale: "Put on scale", clear_scale: "Empty scale", grams: "grams",
    reason: "Reason", override: "Supervisor override", lang: "中文",
    ok: "OK", prompt: "Check", blocked: "Blocked", error: "Refused",
    pick_sign_in: "Sign in", badge_code: "Badge code", pin: "PIN", pick_list: "Pick list", go_to_bin: "Go to bin",
    take: "Take", lot: "Lot", into_tote: "Scan the tote to confirm", orders_to_pick: "Orders to pick",
    priority: "priority", logout: "Sign out", stations: "Stations", blocked_parcels: "Blocked parcels",
    escalations: "Open escalations", milestones: "Order milestones", expiring: "Lots expiring soon", audit: "Audit log",
    acknowledge: "Acknowledge",
  },
  zh: {
    tap_badge: "请刷工卡", signed_in_as: "已登录", order: "订单", tote: "周转箱", packaging: "包装箱",
    sku: "货号", item: "商品", scanned: "已扫", scale: "电子秤", expected: "预期", allowed: "允许",
    stable: "稳定", moving: "不稳定", disconnected: "电子秤未连接", scan_here: "扫描或输入条码后回车",
    send: "发送", reweigh: "重新称重", cancel: "取消订单", sign_out: "退出", take_older: "取较早批次",
    ready: "就绪", queue: "待同步", offline: "上游离线", dead: "失败消息",
    no_order: "请扫描订单或周转箱", demo_devices: "演示设备（数据经过模拟器）",
    tap: "刷卡", scan: "扫描", put_on_scale: "放上秤", clear_scale: "清空秤", grams: "克",
    reason: "原因", override: "主管放行", lang: "English",
    ok: "通过", prompt: "请确认", blocked: "拦截", error: "拒绝",
    pick_sign_in: "登录", badge_code: "工卡号", pin: "密码", pick_list: "拣货单", go_to_bin: "前往库位",
    take: "拿取", lot: "批次", into_tote: "扫描周转箱确认", orders_to_pick: "待拣订单",
    priority: "优先", logout: "退出", stations: "工作站", blocked_parcels: "被拦截包裹",
    escalations: "未处理升级", milestones: "订单节点", expiring: "临期批次", audit: "审计日志",
    acknowledge: "确认",
  },
};

let LANG = localStorage.getItem("packgate.lang") || document.documentElement.dataset.lang || "en";

function t(key) { return (I18N[LANG] && I18N[LANG][key]) || I18N.en[key] || key; }

function applyI18n(root) {
  document.documentElement.lang = LANG === "zh" ? "zh-CN" : "en";
  (root || document).querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  (root || document).querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
}

function toggleLang() {
  LANG = LANG === "en" ? "zh" : "en";
  localStorage.setItem("packgate.lang", LANG);
  applyI18n();
  if (window.onLangChange) window.onLangChange();
}

// Distinct sounds per verdict, synthesised so no audio files are needed.
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
    document.body.dataset.lastSound = kind;
    try {
      this.ctx = this.ctx || new (window.AudioContext || window.webkitAudioContext)();
      if (kind === "ok") { this.tone(880, 0, 0.12); this.tone(1320, 0.14, 0.18); }
      else if (kind === "prompt") { this.tone(660, 0, 0.25, "triangle"); this.tone(660, 0.35, 0.25, "triangle"); }
      else if (kind === "error") { this.tone(180, 0, 0.7, "square"); this.tone(140, 0.05, 0.7, "sawtooth"); }
    } catch (e) { /* no audio device: the colour still shows the verdict */ }
  },
};

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
      return data;
    } catch (e) {
      lastError = e;
      await new Promise((r) => setTimeout(r, 400 * (i + 1)));
    }
  }
  return { status: "error", code: "network", message: "Network error: " + lastError, sound: "error", colour: "red" };
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

// A keyboard-wedge scanner types into `input`; a scan ends with Enter, Tab, or a pause (no suffix).
function wedgeInput(input, onCode, idleMs) {
  let timer = null;
  const submit = () => {
    clearTimeout(timer);
    const code = input.value.replace(/^[\r\n\t ]+|[\r\n\t ]+$/g, "");  // never strip GS (0x1D)
    input.value = "";
    if (code) onCode(code);
  };
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" || ev.key === "Tab") { ev.preventDefault(); submit(); }
  });
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => { if (input.dataset.autosubmit !== "off") submit(); }, idleMs || 300);
  });
  return submit;
}

function esc(text) {
  return String(text == null ? "" : text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
