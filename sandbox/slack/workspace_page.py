"""The page of the browser workspace: one HTML document with its script, no build step. It
polls /try/state and draws the Block Kit it gets; every act goes back through /try/…"""

PAGE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>rollbot — try it in a local workspace</title>
<style>
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: #1d1c1d; display: grid;
  grid-template-columns: 220px 1fr 320px; height: 100vh; }
nav { background: #3f0e40; color: #e8dfe8; padding: 12px; overflow-y: auto; }
nav h1 { font-size: 16px; margin: 0 0 12px; color: #fff; }
nav label { display: block; font-size: 12px; margin-top: 8px; }
nav select { width: 100%; margin: 4px 0 16px; }
nav a { display: block; color: #e8dfe8; padding: 3px 6px; border-radius: 4px; cursor: pointer; }
nav a.here { background: #1164a3; color: #fff; }
main { display: flex; flex-direction: column; min-width: 0; }
#title { padding: 10px 16px; border-bottom: 1px solid #ddd; font-weight: 700; }
#messages { flex: 1; overflow-y: auto; padding: 8px 16px; }
.msg { padding: 6px 0; border-bottom: 1px solid #f2f2f2; }
.who { font-weight: 700; }
.private { background: #fff8e1; border-left: 3px solid #e8a400; padding-left: 8px; }
.private .note { font-size: 11px; color: #8a6d00; }
.thread { margin: 4px 0 0 24px; border-left: 2px solid #ddd; padding-left: 10px; font-size: 13px; }
.header { font-size: 16px; font-weight: 700; margin: 4px 0; }
.context { font-size: 12px; color: #616061; }
.fields { display: grid; grid-template-columns: 1fr 1fr; gap: 2px 16px; }
.actions button, .accessory button { margin: 4px 6px 4px 0; padding: 4px 10px; border: 1px solid #bbb;
  border-radius: 4px; background: #fff; cursor: pointer; }
button.primary { background: #007a5a; color: #fff; border-color: #007a5a; }
button.danger { background: #e01e5a; color: #fff; border-color: #e01e5a; }
pre { background: #f8f8f8; border: 1px solid #e8e8e8; padding: 6px; white-space: pre-wrap; }
code { background: #f3f3f3; padding: 0 3px; }
#composer-bar { display: flex; gap: 8px; padding: 10px 16px; border-top: 1px solid #ddd; }
#composer { flex: 1; padding: 8px; font: inherit; }
aside { border-left: 1px solid #ddd; padding: 12px; overflow-y: auto; background: #fafafa; }
aside table { border-collapse: collapse; width: 100%; font-size: 12px; }
aside td, aside th { border-bottom: 1px solid #e4e4e4; padding: 3px; text-align: left; vertical-align: top; }
.overlay { position: fixed; inset: 0; background: rgba(0,0,0,.45); display: flex;
  align-items: center; justify-content: center; }
.dialog { background: #fff; border-radius: 8px; padding: 16px; width: 520px; max-height: 85vh; overflow-y: auto; }
.dialog label { display: block; font-weight: 700; margin-top: 10px; }
.dialog input, .dialog select, .dialog textarea { width: 100%; padding: 6px; font: inherit; }
.error { color: #e01e5a; font-size: 12px; }
#flash { color: #e01e5a; padding: 0 16px; }
</style></head>
<body>
<nav>
  <h1>rollbot sandbox</h1>
  <label for="person">You are</label>
  <select id="person"></select>
  <div id="channels"></div>
</nav>
<main>
  <div id="title"></div>
  <div id="messages"></div>
  <div id="flash"></div>
  <div id="composer-bar">
    <input id="composer" placeholder="/rollback deployment/api -n prod --reason &quot;5xx&quot;" autocomplete="off">
    <button id="send">Send</button>
  </div>
</main>
<aside><h3>Sandbox cluster</h3><div id="cluster">…</div>
  <h3>Audit log</h3><div id="audit-head">…</div></aside>
<div id="overlay"></div>
<script>
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let me = params.get("user"), here = params.get("channel"), names = {}, latest = null, busy = false;

function esc(s) { return String(s).replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c])); }
function decode(s) { return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&"); }
const EMOJI = {hourglass: "⌛", hourglass_flowing_sand: "⏳", white_check_mark: "✅", warning: "⚠️", eyes: "👀",
  rotating_light: "🚨", no_entry_sign: "🚫", large_green_circle: "🟢", red_circle: "🔴", package: "📦",
  alarm_clock: "⏰", arrows_counterclockwise: "🔄", page_facing_up: "📄", x: "❌", heavy_check_mark: "✔️"};
function styled(s) {
  return esc(decode(s)).replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] || m).replace(/```([\s\S]*?)```/g, "<pre>$1</pre>").replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/(^|[\s(])\*([^*\n]+)\*/g, "$1<b>$2</b>").replace(/(^|[\s(])_([^_\n]+)_/g, "$1<i>$2</i>")
    .replace(/\n/g, "<br>");
}
function mrkdwn(text) {
  return String(text || "").split(/<([^<>]+)>/).map((part, i) => {
    if (i % 2 === 0) return styled(part);
    if (part[0] === "@") return "<b>@" + esc(names[part.slice(1)] || part.slice(1)) + "</b>";
    if (part[0] === "#") { const [id, label] = part.slice(1).split("|"); return "<b>#" + esc(label || channelName(id)) + "</b>"; }
    if (part[0] === "!") return "<b>@" + esc(part.slice(1).split("^")[0]) + "</b>";
    const [url, label] = part.split("|");
    return '<a href="' + esc(url) + '" target="_blank">' + esc(label || url) + "</a>";
  }).join("");
}
function channelName(id) { const c = (latest && latest.channels.find(c => c.id === id)); return c ? c.name : id; }
function textOf(t) { return !t ? "" : t.type === "plain_text" ? esc(t.text) : mrkdwn(t.text); }

function button(el, ts) {
  const style = el.style ? ' class="' + el.style + '"' : "";
  const confirm = el.confirm ? " data-confirm='" + esc(JSON.stringify(el.confirm)) + "'" : "";
  return '<button' + style + ' data-action-id="' + esc(el.action_id) + '" data-ts="' + ts + '"' + confirm + ">" + esc(el.text.text) + "</button>";
}
function block(b, ts) {
  switch (b.type) {
    case "header": return '<div class="header">' + esc(b.text.text) + "</div>";
    case "divider": return "<hr>";
    case "context": return '<div class="context">' + (b.elements || []).map(e => e.text !== undefined ? textOf(e) : "").join(" · ") + "</div>";
    case "actions": return '<div class="actions">' + (b.elements || []).filter(e => e.type === "button").map(e => button(e, ts)).join("") + "</div>";
    case "section": {
      let out = b.text ? "<div>" + textOf(b.text) + "</div>" : "";
      if (b.fields) out += '<div class="fields">' + b.fields.map(f => "<div>" + textOf(f) + "</div>").join("") + "</div>";
      if (b.accessory && b.accessory.type === "button") out += '<div class="accessory">' + button(b.accessory, ts) + "</div>";
      return out;
    }
    default: return "";
  }
}
function body(m) { return (m.blocks && m.blocks.length) ? m.blocks.map(b => block(b, m.ts)).join("") : mrkdwn(m.text); }
function message(m) {
  const who = m.user === "U0ROLLBOT" || !m.user ? "rollbot" : (names[m.user] || m.user);
  const files = (m.files || []).map(f => '<div class="context">📎 ' + esc(f.title || f.name) + "</div>").join("");
  const replies = (m.replies || []).map(r => '<div class="msg" data-ts="' + r.ts + '">' + body(r) + "</div>").join("");
  return '<div class="msg" data-ts="' + m.ts + '"><span class="who">' + esc(who) + "</span>" + body(m) + files +
    (replies ? '<div class="thread">' + replies + "</div>" : "") + "</div>";
}
function privately(e) {
  return '<div class="msg private" data-ts="' + (e.ts || "") + '"><div class="note">Only visible to you</div>' + body(e) + "</div>";
}

function input(b, errors) {
  const el = b.element || {}, id = b.block_id, err = errors[id] ? '<div class="error">' + esc(errors[id]) + "</div>" : "";
  let field;
  if (el.type === "static_select") {
    field = '<select data-block="' + esc(id) + '" data-action="' + esc(el.action_id) + '" data-kind="select"><option value=""></option>' +
      (el.options || []).map(o => '<option value="' + esc(o.value) + '">' + esc(o.text.text) + "</option>").join("") + "</select>";
  } else {
    const tag = el.multiline ? "textarea" : "input";
    field = "<" + tag + ' data-block="' + esc(id) + '" data-action="' + esc(el.action_id) + '" data-kind="text" value="' + esc(el.initial_value || "") + '">' + (el.multiline ? esc(el.initial_value || "") + "</textarea>" : "");
  }
  return "<label>" + esc(b.label.text) + "</label>" + field + err;
}
function showView(view, errors) {
  if (!view) { if ($("overlay").dataset.kind === "view") { $("overlay").innerHTML = ""; $("overlay").dataset.kind = ""; } return; }
  if ($("overlay").dataset.view === view.id && !errors) return;
  const blocks = view.blocks.map(b => b.type === "input" ? input(b, errors || {}) : block(b, "")).join("");
  $("overlay").dataset.kind = "view"; $("overlay").dataset.view = view.id;
  $("overlay").innerHTML = '<div class="overlay"><div class="dialog" id="modal"><div class="header">' + esc(view.title.text) + "</div>" + blocks +
    '<p><button id="modal-submit" class="primary">' + esc((view.submit || {text: "Submit"}).text) + '</button> <button id="modal-close">Close</button></p></div></div>';
  $("modal-submit").onclick = () => submitView(view.id);
  $("modal-close").onclick = () => post("/try/close", {view_id: view.id}).then(() => { $("overlay").innerHTML = ""; $("overlay").dataset.kind = ""; });
}
async function submitView(id) {
  const values = {};
  document.querySelectorAll("#modal [data-block]").forEach(f => {
    const v = f.dataset.kind === "select" ? {type: "static_select", selected_option: f.value ? {value: f.value} : null} : {type: "plain_text_input", value: f.value};
    values[f.dataset.block] = {[f.dataset.action]: v};
  });
  const answer = await post("/try/submit", {user: me, view_id: id, values});
  if (answer.errors) showView(latest.view, answer.errors); else { $("overlay").innerHTML = ""; $("overlay").dataset.kind = ""; refresh(); }
}
function askFirst(confirm) {
  return new Promise(done => {
    $("overlay").dataset.kind = "confirm";
    $("overlay").innerHTML = '<div class="overlay"><div class="dialog" id="confirm"><div class="header">' + esc(confirm.title.text) + "</div><p>" + textOf(confirm.text) +
      '</p><button id="confirm-yes" class="primary">' + esc(confirm.confirm.text) + '</button> <button id="confirm-no">' + esc(confirm.deny.text) + "</button></div></div>";
    const finish = (yes) => { $("overlay").innerHTML = ""; $("overlay").dataset.kind = ""; done(yes); };
    $("confirm-yes").onclick = () => finish(true); $("confirm-no").onclick = () => finish(false);
  });
}

async function post(path, data) {
  const resp = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(data)});
  return resp.json();
}
function panel(p) {
  const rows = (p.deployments || []).map(d => "<tr><td>" + esc(d.name) + "</td><td>" + esc(d.revision) + "</td><td>" + esc(d.images) + "</td><td>" + esc(d.ready) + "</td></tr>").join("");
  $("cluster").innerHTML = "<table><tr><th>deployment</th><th>rev</th><th>image</th><th>ready</th></tr>" + rows + "</table>";
  $("audit-head").innerHTML = p.audit ? "<code>" + esc(p.audit) + "</code>" : "empty";
}
function draw(s) {
  latest = s; names = s.names; here = s.channel; me = me || (s.people[0] || {}).id;
  const person = $("person");
  if (!person.options.length) {
    person.innerHTML = s.people.map(p => '<option value="' + p.id + '">' + esc(p.label) + "</option>").join("");
    person.onchange = () => { me = person.value; refresh(); };
  }
  person.value = me;
  $("channels").innerHTML = s.channels.map(c => '<a data-channel-name="' + esc(c.name) + '" data-id="' + c.id + '"' + (c.id === here ? ' class="here"' : "") + "># " + esc(c.name) + "</a>").join("");
  document.querySelectorAll("#channels a").forEach(a => a.onclick = () => { here = a.dataset.id; refresh(); });
  $("title").textContent = "#" + channelName(here);
  const items = s.messages.map(m => [parseFloat(m.ts), message(m)]).concat(s.private.map(e => [parseFloat(e.ts || "0"), privately(e)]));
  items.sort((a, b) => a[0] - b[0]);
  const box = $("messages"), atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 20;
  const html = items.map(i => i[1]).join("");
  if (box.dataset.html !== html) { box.innerHTML = html; box.dataset.html = html; if (atEnd) box.scrollTop = box.scrollHeight; }
  document.querySelectorAll("#messages button[data-action-id]").forEach(b => b.onclick = async () => {
    if (b.dataset.confirm && !(await askFirst(JSON.parse(b.dataset.confirm)))) return;
    await post("/try/click", {user: me, channel: here, ts: b.dataset.ts, action_id: b.dataset.actionId}); refresh();
  });
  if ($("overlay").dataset.kind !== "confirm") showView(s.view);
  panel(s.panel);
}
async function refresh() {
  if (busy) return; busy = true;
  try { draw(await (await fetch("/try/state?user=" + encodeURIComponent(me || "") + "&channel=" + encodeURIComponent(here || ""))).json()); }
  finally { busy = false; }
}
async function send() {
  const text = $("composer").value; $("composer").value = "";
  const answer = await post("/try/command", {user: me, channel: here, text});
  $("flash").textContent = answer.error || ""; refresh();
}
$("send").onclick = send;
$("composer").onkeydown = (e) => { if (e.key === "Enter") send(); };
refresh(); setInterval(refresh, 1000);
</script>
</body></html>
"""
