// Supervisor page, "Evidence" panel: one parcel's evidence record in words -- the verdict (status, the weighing
// against its range, who approved what and why), the scans with lot and serial, the people by name, the weighings
// with the decoded reading of each scale frame (its bytes on demand), the label and waybill, the packing video and
// the timeline. Re-drawn in the other language when the page's language changes.
"use strict";

let EVIDENCE = null;  // the record shown (or the refusal), drawn again on a language switch

const grams = (g) => (g == null || g === "" ? "—" : `${g} g`);

function personOf(r) {
  return (id) => (id ? (r.people && r.people[id]) || id : "—");
}

// An action of the record: a confirmation ("verify", "pack") or an audited change ("weight_override").
function actionWord(kind, action) {
  if (kind === "audit") return t("action:" + action);
  return known("page:ev_" + action) ? t("ev_" + action) : action;
}

// A reason as the reader reads it: a word of the catalog (a preset, the station's own), or null for one a person typed.
function reasonWord(reason) {
  if (!reason) return "";
  const key = String(reason).trim().replace(/: /g, "_").replace(/ /g, "_").toLowerCase();
  if (known("reason:" + key)) return t("reason:" + key);
  if (known("word:" + key)) return t("word:" + key);
  const preset = Object.keys(TEXTS.en).find((k) => k.startsWith("page:r_") && (TEXTS.en[k] === reason || (TEXTS.zh || {})[k] === reason));
  return preset ? t(preset) : null;
}

function reasonText(reason) {
  const said = reasonWord(reason);
  return said === null ? String(reason) : said;
}

// The reason as HTML: a typed one is the person's words (data), as they wrote them.
function reasonHtml(reason) {
  const said = reasonWord(reason);
  return said === null ? `<span data-value>${esc(reason)}</span>` : esc(said);
}

function weighingLine(w) {
  const diff = w.diff_g != null ? ` (${w.diff_g} g, ${w.diff_pct} %)` : "";
  return `${grams(w.measured_g)} · ${t("expected")} ${grams(w.expected_g)}${diff} · ${w.result === "pass" ? t("ev_pass") : t("ev_fail")}`;
}

function readingText(f) {
  const reading = f.reading || {};
  return reading.grams != null ? `${reading.grams} g · ${reading.stable ? t("stable") : t("moving")}` : t("device:not_understood");
}

// The frame the weighing was judged on, decoded; every frame's bytes on demand.
function framesHtml(frames) {
  const judged = frames.find((f) => f.judged) || frames[frames.length - 1];
  return `<div class="frames"><span class="muted">${esc(t("ev_frames"))}:</span> ` +
    `<span class="frame judged">${esc(judged ? readingText(judged) : "—")}</span>` +
    `<details><summary>${esc(t("ev_raw"))}</summary><ol>${frames.map((f) => `<li class="${f.judged ? "judged" : ""}">` +
      `${esc(readingText(f))} <code data-value>${esc(f.raw_hex)}</code></li>`).join("")}</ol></details></div>`;
}

function verdictHtml(r, person) {
  const status = r.order ? r.order.status : null;
  const parts = status ? [esc(t("order_status:" + status))] : [];
  const last = r.weighings.length ? r.weighings[r.weighings.length - 1] : null;
  if (last) parts.push(esc(`${t("weight")}: ${weighingLine(last)}`));
  (r.audit || []).filter((a) => a.action === "weight_override" || a.action === "lot_override").forEach((a) =>
    parts.push(esc(t("ev_approved")).replace("{name}", `<span data-value>${esc(person(a.who))}</span>`)
      .replace("{reason}", reasonHtml(a.reason))));
  return `<p class="ev-verdict"><b>${esc(t("ev_result"))}:</b> ${parts.join(" · ")}</p>`;
}

function evidenceHtml(r) {
  const person = personOf(r);
  const list = (items, fn) => (items.length ? items.map(fn).join("") : `<li class="muted">—</li>`);
  const badges = ["packer", "second_person", "supervisor"].map((role) =>
    `<li>${esc(t("ev_" + role))}: <span data-value>${esc((r.badges[role] || []).map((b) => person(b.employee_id)).join(", ") || "—")}</span></li>`).join("");
  const labels = (r.labels || []).filter((l) => l.waybill);
  return `<h3><span data-value>${esc(r.order_id)}</span> · ${esc(r.order ? t("order_status:" + r.order.status) : "")}</h3>` +
    verdictHtml(r, person) +
    `<h4>${esc(t("ev_scans"))}</h4><ul>${list(r.scans, (s) => `<li>${esc(shortTime(s.at))} ${esc(actionWord("confirmation", s.action))} ` +
      `<b data-value>${esc(s.sku || s.tote || s.packaging || "")}</b>` +
      `${s.lot ? ` · ${esc(t("lot"))} <span data-value>${esc(s.lot)}</span>` : ""}` +
      `${s.serial ? ` · SN <span data-value>${esc(s.serial)}</span>` : ""} · <span data-value>${esc(person(s.operator))}</span></li>`)}</ul>` +
    `<h4>${esc(t("ev_badges"))}</h4><ul>${badges}</ul>` +
    `<h4>${esc(t("ev_weighings"))}</h4><ul>${list(r.weighings, (w) => `<li data-weighing="${esc(w.attempt)}">${esc(shortTime(w.at))} ` +
      `<b>${esc(weighingLine(w))}</b>` + (w.source === "entered" ? ` (${esc(t("ev_entered"))})` : framesHtml(w.frames)) +
      `</li>`)}</ul>` +
    `<h4>${esc(t("ev_label"))}</h4><ul>${list(labels, (l) => `<li>${esc(shortTime(l.at))} ${esc(actionWord("confirmation", l.action))} · ` +
      `<b data-value>${esc(l.waybill)}</b>${l.carton ? ` · ${esc(t("carton"))} ${esc(l.carton)}` : ""}</li>`)}</ul>` +
    `<h4>${esc(t("ev_media"))}</h4><ul>${list([...r.media.photos, ...r.media.clips], (h) => `<li><code data-value>${esc(h)}</code></li>`)}</ul>` +
    (r.clips || []).map((c) => `<div class="clip" data-clip="${esc(c.sha256)}">${esc(shortTime(c.started_at))} · ${esc(t("ev_clip_" + c.outcome))}` +
      (c.removed_at ? ` · ${esc(t("ev_clip_removed"))}</div>` :
      `<br><video controls preload="metadata" style="max-width:100%" ` +
      `src="/api/v1/supervisor/evidence/${encodeURIComponent(r.order_id)}/clips/${esc(c.sha256)}"></video></div>`)).join("") +
    `<h4>${esc(t("ev_timeline"))}</h4><ul>${list(r.timeline, (e) => `<li>${esc(shortTime(e.at))} ${esc(actionWord(e.kind, e.action))} · ` +
      `<span data-value>${esc(person(e.who))}</span>${e.reason ? ` · ${reasonHtml(e.reason)}` : ""}</li>`)}</ul>`;
}

function drawEvidence() {
  const out = document.getElementById("evidence-view");
  if (!EVIDENCE) { out.innerHTML = ""; return; }
  out.innerHTML = EVIDENCE.status === "error"
    ? `<div class="msg error" data-value>${esc(LANG === "zh" ? EVIDENCE.message_zh : EVIDENCE.message)}</div>` : evidenceHtml(EVIDENCE);
}

async function showEvidence() {
  const order = document.getElementById("evidence-order").value.trim();
  if (!order) return;
  EVIDENCE = await getJSON(`/api/v1/supervisor/evidence/${encodeURIComponent(order)}`);
  drawEvidence();
}

document.addEventListener("DOMContentLoaded", () => {
  applyI18n();
  document.getElementById("evidence-go").onclick = showEvidence;
  document.getElementById("evidence-order").addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); showEvidence(); } });
});
