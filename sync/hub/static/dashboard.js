/* The live site dashboard: draws every panel from the hub's JSON and redraws within a second of a change.
   The hub's event stream (/api/dashboard/stream) says when its feed moved; the page then fetches the JSON again.
   A timer refreshes ages and stations every few seconds too (heartbeats are not on the feed). Every word comes
   from the catalog (the page's #words); times are shown in the reader's local time. */
(function () {
  "use strict";
  const REFRESH_S = 5;
  const root = document.getElementById("dashboard");
  const T = JSON.parse(document.getElementById("words").textContent);
  const LANG = root.dataset.lang === "zh" ? "zh-CN" : "en-GB";
  const CSRF = root.dataset.csrf;
  const PALETTE = ["#1d4ed8", "#15803d", "#c2410c", "#7c3aed", "#0e7490", "#be185d", "#4d7c0f", "#b91c1c"];
  const state = { page: 1, pages: 1, head: null, busy: false, again: false, charts: {}, summary: null };

  // ---- small helpers ---------------------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function td(label, ...content) { return el("td", { "data-label": label }, ...content); }
  function fill(tbody, rows, columns) {
    tbody.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: columns, class: "empty-row empty" }, T.none))]));
  }
  function sameDay(a, b) { return a.toDateString() === b.toDateString(); }
  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d)) return "";
    const opts = sameDay(d, new Date()) ? { hour: "2-digit", minute: "2-digit" }
      : { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" };
    return new Intl.DateTimeFormat(LANG, opts).format(d);
  }
  function timeEl(iso) { return iso ? el("time", { datetime: iso }, when(iso)) : ""; }
  function number(n, digits) { return new Intl.NumberFormat(LANG, { maximumFractionDigits: digits || 0 }).format(n); }
  function unit(key, n) { return T[key].replace("{n}", n); }
  function offset(seconds) {
    if (seconds === null || seconds === undefined) return T.unknown;
    const sign = seconds < 0 ? "−" : "+";
    const abs = Math.abs(seconds);
    if (abs < 60) return sign + unit("unit_s", number(abs, 1));
    return sign + unit("unit_min", Math.floor(abs / 60)) + " " + unit("unit_s", Math.round(abs % 60));
  }
  function stageName(stage) { return (T.stage_names && T.stage_names[stage]) || stage; }
  function pill(colour) { return el("span", { class: "pill " + colour }, T[colour]); }
  async function getJSON(url) {
    const resp = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (resp.status === 401) { window.location.reload(); throw new Error("signed out"); }
    if (!resp.ok) throw new Error(url + ": HTTP " + resp.status);
    return resp.json();
  }
  function query(extra) {
    const form = new FormData(document.getElementById("filters"));
    const params = new URLSearchParams({ lang: root.dataset.lang });
    for (const [k, v] of form.entries()) if (v !== "" && !(k === "min_age" && v === "0")) params.set(k, v);
    for (const [k, v] of Object.entries(extra || {})) params.set(k, v);
    return params.toString();
  }

  // ---- the panels ------------------------------------------------------------------------------------------
  function tiles(summary, counts) {
    const set = (name, value) => { root.querySelector(`[data-v="${name}"]`).textContent = value; };
    set("open", number(counts.total));
    set("backlog", number(summary.backlog.count));
    set("oldest", summary.backlog.count ? summary.backlog.oldest + " (" + summary.backlog.oldest_order + ")" : T.none);
    set("packed", number(summary.today.packed));
    set("shipped", number(summary.today.shipped));
    set("intercepted", number(summary.today.intercepted));
    document.getElementById("tile-backlog").className = "tile " + (summary.backlog.count ? summary.backlog.sla : "green");
  }

  function stageButtons(counts) {
    const box = document.getElementById("stage-counts");
    const chosen = document.querySelector('#filters [name="stage"]').value;
    box.replaceChildren(...counts.stages.map((s) => {
      const button = el("button", { type: "button", "data-stage": s.stage, "aria-pressed": String(chosen === s.stage) },
        el("span", {}, s.name), el("span", { class: "n" }, number(s.total)),
        el("span", { class: "mix" }, ["green", "amber", "red"].filter((c) => s[c]).map((c) =>
          el("span", { class: "pill " + c, title: T[c] }, number(s[c]) + " " + T[c]))));
      button.addEventListener("click", () => {
        const select = document.querySelector('#filters [name="stage"]');
        select.value = select.value === s.stage ? "" : s.stage;
        state.page = 1;
        refresh();
      });
      return button;
    }));
    for (const [name, items, value, label] of [["table", counts.tables, "station", "name"], ["carrier", counts.carriers, null, null]]) {
      const select = document.querySelector(`#filters [name="${name}"]`);
      const keep = select.value;
      select.replaceChildren(el("option", { value: "" }, T.all),
        ...items.map((item) => el("option", { value: value ? item[value] : item }, label ? item[label] : item)));
      select.value = keep;
    }
  }

  function orderList(page) {
    state.pages = page.pages;
    state.page = page.page;
    const rows = page.orders.map((o) => {
      const link = el("a", { href: "#order=" + encodeURIComponent(o.order_id), class: "order-link" }, o.order_id);
      return el("tr", { class: "order sla-" + o.sla, "data-order": o.order_id, "data-stage": o.stage },
        td(T.order, link), td(T.stage, o.stage_name, o.wms_status ? " (" + (T[o.wms_status] || o.wms_status) + ")" : ""),
        td(T.age, o.age), td(T.table, o.table), td(T.person, o.person), td(T.carrier, o.carrier),
        td(T.sla, pill(o.sla)));
    });
    const tbody = document.querySelector("#order-list tbody");
    if (rows.length) tbody.replaceChildren(...rows);
    else tbody.replaceChildren(el("tr", {}, el("td", { colspan: 7, class: "empty-row empty" }, T.no_orders)));
    document.querySelector("#order-list caption").textContent =
      `${T.open_total}: ${number(page.total)} · ${T.page} ${page.page} / ${page.pages}`;
    document.getElementById("page-of").textContent = `${T.page} ${page.page} ${T.of} ${page.pages}`;
    document.getElementById("prev").disabled = page.page <= 1;
    document.getElementById("next").disabled = page.page >= page.pages;
  }

  function stageTimes(rows) {
    const body = document.querySelector("#stage-times tbody");
    fill(body, rows.map((r) => el("tr", { "data-stage": r.stage }, td(T.stage, r.name),
      td(T.last_hour + " · " + T.avg, r.hour.avg || "–"), td(T.last_hour + " · " + T.p90, r.hour.p90 || "–"),
      td(T.last_hour + " · " + T.samples, number(r.hour.n)),
      td(T.this_shift + " · " + T.avg, r.shift.avg || "–"), td(T.this_shift + " · " + T.p90, r.shift.p90 || "–"),
      td(T.this_shift + " · " + T.samples, number(r.shift.n)))), 7);
  }

  function chart(id, hours, series) {
    const box = document.getElementById(id);
    const names = Object.keys(series);
    if (!window.uPlot) return;
    const key = names.join("\u001f");
    const xs = hours.map((h) => new Date(h).getTime() / 1000);
    const data = [xs, ...names.map((n) => series[n])];
    const width = Math.max(200, Math.floor(box.getBoundingClientRect().width));
    const big = window.innerWidth >= 1600;
    const font = (big ? 18 : 14) + "px system-ui, sans-serif";
    const existing = state.charts[id];
    if (existing && existing.key === key) {
      existing.plot.setData(data);
      if (Math.abs(existing.plot.width - width) > 2) existing.plot.setSize({ width, height: existing.plot.height });
      return;
    }
    if (existing) existing.plot.destroy();
    box.replaceChildren();
    if (!names.length) { box.append(el("p", { class: "empty" }, T.no_data)); delete state.charts[id]; return; }
    const hour = (v) => new Intl.DateTimeFormat(LANG, { hour: "2-digit", minute: "2-digit" }).format(new Date(v * 1000));
    const opts = {
      width, height: big ? 300 : 220, legend: { show: true },
      scales: { x: { time: false }, y: { range: (u, lo, hi) => [0, Math.max(4, Math.ceil(hi * 1.15))] } },
      axes: [
        { font, labelFont: font, label: T.hour, stroke: "#111827", grid: { stroke: "#e5e7eb" },
          values: (u, vals) => vals.map(hour), incrs: [3600, 7200, 10800, 14400], space: big ? 70 : 45 },
        { font, labelFont: font, label: T.per_hour_unit, stroke: "#111827", grid: { stroke: "#e5e7eb" }, size: big ? 70 : 55,
          incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500] },
      ],
      series: [{ label: T.hour, value: (u, v) => (v === null ? "–" : hour(v)) },
        ...names.map((n, i) => ({ label: n, stroke: PALETTE[i % PALETTE.length], width: big ? 4 : 3,
          points: { size: big ? 10 : 7, fill: PALETTE[i % PALETTE.length] }, value: (u, v) => (v === null ? "–" : number(v)) }))],
    };
    state.charts[id] = { key, plot: new window.uPlot(opts, data, box) };
  }

  function paused(summary) {
    const note = document.getElementById("charts-paused");
    note.hidden = !summary.charts_paused;
    note.querySelector("time").textContent = summary.charts_paused ? when(summary.charts_at) : "";
  }

  function throughput(t) {
    chart("chart-tables", t.hours, t.per_table);
    chart("chart-packers", t.hours, t.per_packer);
    const rows = [...t.tables_shift, ...t.packers_shift].map((r) =>
      el("tr", {}, td(T.table + " / " + T.person, r.name), td(T.total_shift, number(r.parcels)), td(T.per_hour_unit, number(r.per_hour, 1))));
    fill(document.querySelector("#throughput-shift tbody"), rows, 3);
  }

  function passRates(rows) {
    fill(document.querySelector("#pass-rate tbody"), rows.map((r) => el("tr", { "data-station": r.station },
      td(T.table, r.table), td(T.checks, number(r.checks)), td(T.passed, number(r.passed)),
      td(T.rate, new Intl.NumberFormat(LANG, { style: "percent", maximumFractionDigits: 1 }).format(r.rate)))), 4);
  }

  function stations(rows) {
    fill(document.querySelector("#stations tbody"), rows.map((s) => el("tr", { class: "station", "data-station": s.station },
      td(T.table, s.table), td(T.connection, el("span", { class: s.online ? "on" : "off" }, s.online ? T.online : T.offline)),
      td(T.state, s.state_name), td(T.operator, s.person), td(T.current_order, s.order_id),
      td(T.devices, s.devices.map((d, i) => [i ? el("br") : "", `${d.name}: ${d.state_name}`])),
      td(T.version, s.version || T.unknown),
      td(T.outbox, s.outbox_depth === null ? T.unknown : number(s.outbox_depth)),
      td(T.clock, el("span", { class: "clock" + (s.clock_warning ? " warn" : ""), "data-offset": s.clock_offset_s === null ? "" : s.clock_offset_s }, offset(s.clock_offset_s))),
      td(T.last_seen, timeEl(s.last_seen)))), 10);
  }

  function hidden(name, value) { return el("input", { type: "hidden", name, value }); }

  function panels(p) {
    fill(document.querySelector("#escalations tbody"), p.escalations.map((e) => el("tr", { class: "escalation", "data-order": e.order_id },
      td(T.order, e.order_id), td(T.level, unit("escalation_level", e.level)), td(T.table, e.table), td(T.sent_at, timeEl(e.sent_at)),
      td(T.acked, e.acked_by ? "✓ " + (e.person || e.acked_by) : el("form", { class: "inline", method: "post", action: "/escalations/ack" },
        hidden("csrf", CSRF), hidden("order_id", e.order_id), hidden("level", e.level), el("button", { class: "ack button" }, T.ack))))), 5);
    fill(document.querySelector("#blocked tbody"), p.blocked.map((o) => el("tr", { "data-order": o.order_id },
      td(T.order, o.order_id), td(T.table, o.table), td(T.person, o.person), td(T.age, o.waiting))), 4);
    const claims = document.querySelector("#claims tbody");
    const typing = [...claims.querySelectorAll("input[name=reason]")].some((i) => i.value || i === document.activeElement);
    if (!typing) {
      fill(claims, p.claims.map((c) => el("tr", { "data-order": c.order_id }, td(T.order, c.order_id), td(T.table, c.table),
        td(T.person, c.person), td(T.claimed_at, timeEl(c.claimed_at)),
        td(T.release, el("form", { class: "inline", method: "post", action: "/claims/release" }, hidden("csrf", CSRF),
          hidden("order_id", c.order_id), el("input", { name: "reason", placeholder: T.reason, "aria-label": T.reason, required: "", maxlength: "200" }),
          " ", el("button", { class: "release button" }, T.release))))), 5);
    }
    fill(document.querySelector("#intercepted tbody"), p.intercepted.map((o) => el("tr", { class: "intercepted", "data-order": o.order_id },
      td(T.order, o.order_id), td(T.status, T[o.wms_status] || o.wms_status), td(T.wms_reason, o.wms_reason || ""),
      td(T.decided_at, timeEl(o.wms_at)), td(T.stage, stageName(o.stage === "open" ? "backlog" : o.stage)), td(T.table, o.table))), 6);
    fill(document.querySelector("#not-handed-over tbody"), p.not_handed_over.map((o) => el("tr", { class: "parcel", "data-order": o.order_id },
      td(T.order, o.order_id), td(T.table, o.table), td(T.packed_at, timeEl(o.packed_at)), td(T.age, o.waiting))), 4);
    fill(document.querySelector("#conflicts tbody"), p.conflicts.map((c) => el("tr", { class: "conflict" },
      td(T.kind, c.kind_name), td(T.subject, c.subject), td(T.at, timeEl(c.at)))), 3);
    fill(document.querySelector("#lots tbody"), p.lots.map((l) => el("tr", {}, td(T.sku, l.sku), td(T.lot, l.lot),
      td(T.expires, l.expires, l.expired ? " (" + T.expired + ")" : ""), td(T.left, number(l.left) + " / " + number(l.qty || 0)),
      td(T.bin, l.bin || ""))), 5);
    returnsPanel(p.returns);
    fill(document.querySelector("#audit tbody"), p.audit.map((a) => el("tr", {}, td(T.at, timeEl(a.at)), td(T.who, a.person),
      td(T.what, a.what_name), td(T.subject, a.subject_name || ""))), 4);
  }

  function duration(seconds) {  // as the hub words it: 45 s, 12 min, 1 h 05 min
    const whole = Math.max(0, Math.floor(seconds));
    if (whole < 60) return unit("unit_s", whole);
    if (whole < 3600) return unit("unit_min", Math.floor(whole / 60));
    return unit("unit_h", Math.floor(whole / 3600)) + " " + unit("unit_min", String(Math.floor((whole % 3600) / 60)).padStart(2, "0"));
  }
  function grades(g) { return ["A", "B", "C"].map((k) => `${k} ${number((g || {})[k] || 0)}`).join(" / "); }
  function reasonName(code) { return (T.reason_names && T.reason_names[code]) || code || ""; }

  function returnsPanel(r) {
    if (!r) return;
    const set = (id, text) => { document.getElementById(id).textContent = text; };
    set("returns-waiting", number(r.waiting.length));
    set("returns-in-progress", number(r.in_progress.length));
    set("returns-closed", number(r.closed.length));
    set("returns-processing", r.processing_min === null ? "–" : duration(r.processing_min * 60));
    set("returns-grades", grades(r.grades));
    set("returns-alert", "(" + T.alert_after.replace("{n}", unit("unit_h", number(r.alert_after_h))) + ")");
    fill(document.querySelector("#returns-overdue tbody"), r.overdue.map((x) => el("tr", { class: "return overdue", "data-rma": x.rma_id },
      td(T.rma, x.rma_id), td(T.order, x.order_id || ""), td(T.wms_reason, reasonName(x.reason)),
      td(T.waiting_for, x.age_h === null || x.age_h === undefined ? "" : duration(x.age_h * 3600)))), 4);
    const rows = [...r.in_progress.map((x) => [x, T.returns_in_progress, x.age_h === null || x.age_h === undefined ? "" : duration(x.age_h * 3600)]),
      ...r.closed.map((x) => [x, T[x.outcome] || x.outcome, duration((x.processing_min || 0) * 60)])];
    fill(document.querySelector("#returns-list tbody"), rows.map(([x, status, took]) => el("tr", { class: "return " + x.state, "data-rma": x.rma_id },
      td(T.rma, x.rma_id), td(T.status, status), td(T.table, x.table || x.station), td(T.units, number(x.units || 0)),
      td(T.duration, took), td(T.grades, grades(x.grades)))), 6);
    fill(document.querySelector("#top-reasons tbody"), r.top_reasons.map((x) => el("tr", {},
      td(T.wms_reason, reasonName(x.reason)), td(T.count, number(x.count)))), 2);
  }

  // ---- an order's timeline ---------------------------------------------------------------------------------
  async function openTimeline(orderId) {
    const dialog = document.getElementById("timeline");
    const data = await getJSON(`/api/dashboard/orders/${encodeURIComponent(orderId)}?lang=${root.dataset.lang}`);
    dialog.querySelector('[data-v="order"]').textContent = data.order_id;
    dialog.querySelector(".facts").textContent = [data.stage_name, data.carrier && `${T.carrier}: ${data.carrier}`,
      data.released_at && `${T.released_at}: ${when(data.released_at)}`].filter(Boolean).join(" · ");
    const starts = data.bars.map((b) => new Date(b.start).getTime());
    const ends = data.bars.map((b) => (b.end ? new Date(b.end) : new Date(data.now)).getTime());
    const lo = Math.min(...starts), span = Math.max(1, Math.max(...ends) - lo);
    dialog.querySelector(".gantt").replaceChildren(...data.bars.map((b, i) => el("div", { class: "row", "data-stage": b.stage },
      el("span", {}, b.name), el("div", { class: "track" }, el("div", { class: "bar " + b.sla,
        style: `left:${(100 * (starts[i] - lo)) / span}%;width:${(100 * (ends[i] - starts[i])) / span}%`, title: b.duration })))));
    fill(dialog.querySelector(".bars tbody"), data.bars.map((b) => el("tr", {}, td(T.stage, b.name), td(T.start, timeEl(b.start)),
      td(T.duration, b.end || b.stage === "shipped" || b.stage === "cancelled" ? b.duration : b.duration + " (" + T.now_there + ")"), td(T.table, b.table), td(T.person, b.person))), 5);
    fill(dialog.querySelector(".evidence tbody"), data.evidence.map((e) => el("tr", {}, td(T.at, timeEl(e.at)),
      td(T.action, e.action_name), td(T.table, e.table), td(T.person, e.person), td(T.detail, e.detail))), 5);
    if (!dialog.open) dialog.showModal();
  }

  // ---- refreshing --------------------------------------------------------------------------------------------
  async function refresh() {
    if (state.busy) { state.again = true; return; }
    state.busy = true;
    try {
      const [summary, counts, page, overview] = await Promise.all([
        getJSON("/api/dashboard/summary?lang=" + root.dataset.lang), getJSON("/api/dashboard/counts?" + query()),
        getJSON("/api/dashboard/orders?" + query({ page: state.page, per_page: root.dataset.pageSize })),
        getJSON("/api/dashboard?lang=" + root.dataset.lang)]);
      state.summary = summary;
      tiles(summary, counts);
      stageButtons(counts);
      orderList(page);
      stageTimes(summary.stage_times);
      throughput(summary.throughput);
      paused(summary);
      passRates(summary.pass_rates);
      stations(summary.stations);
      panels(overview);
      const now = document.getElementById("now");
      now.dateTime = summary.now;
      now.textContent = T.updated + " " + new Intl.DateTimeFormat(LANG, { hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(new Date(summary.now));
      root.dataset.head = summary.head;
    } catch (err) {
      console.warn("dashboard refresh failed", err);
    } finally {
      state.busy = false;
      if (state.again) { state.again = false; refresh(); }
    }
  }

  function follow() {
    const live = document.getElementById("live");
    const source = new EventSource("/api/dashboard/stream");
    source.addEventListener("open", () => { live.className = "live on"; live.textContent = T.live; });
    source.addEventListener("change", (ev) => {
      const head = JSON.parse(ev.data).head;
      if (head !== state.head) { state.head = head; refresh(); }
    });
    source.addEventListener("error", () => { live.className = "live off"; live.textContent = T.reconnecting; });
  }

  document.getElementById("filters").addEventListener("change", () => { state.page = 1; refresh(); });
  document.getElementById("filters").addEventListener("submit", (ev) => { ev.preventDefault(); state.page = 1; refresh(); });
  document.getElementById("filters").addEventListener("reset", () => { state.page = 1; setTimeout(refresh, 0); });
  document.getElementById("prev").addEventListener("click", () => { if (state.page > 1) { state.page -= 1; refresh(); } });
  document.getElementById("next").addEventListener("click", () => { if (state.page < state.pages) { state.page += 1; refresh(); } });
  document.getElementById("order-list").addEventListener("click", (ev) => {
    const row = ev.target.closest("tr.order");
    if (row) { ev.preventDefault(); openTimeline(row.dataset.order).catch((err) => console.warn(err)); }
  });
  const resized = new ResizeObserver((entries) => {
    for (const entry of entries) {
      const drawn = state.charts[entry.target.id];
      const width = Math.floor(entry.contentRect.width);
      if (drawn && Math.abs(drawn.plot.width - width) > 1) drawn.plot.setSize({ width: Math.max(200, width), height: drawn.plot.height });
    }
  });
  for (const id of ["chart-tables", "chart-packers"]) resized.observe(document.getElementById(id));
  refresh();
  follow();
  function linked() {  // a link to an order's timeline (#order=SO-10012) opens it
    const found = /^#order=(.+)$/.exec(window.location.hash);
    if (found) openTimeline(decodeURIComponent(found[1])).catch((err) => console.warn(err));
  }
  window.addEventListener("hashchange", linked);
  linked();
  setInterval(refresh, REFRESH_S * 1000);
})();
