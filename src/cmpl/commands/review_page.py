"""``review.html``: one self-contained page to check the labels of ``cmpl label`` by eye.

No server and no network: the data and the animated thumbnails (``data:`` URIs) are inside the file. Cards are
grouped by F's class and sorted by its confidence; a card where A disagrees with F is marked. Each card can be
accepted, given another class, or rejected; "Export" downloads the decisions as ``reviewed_labels.csv``
(``path,label`` with class names: accepted and relabelled videos, rejected ones left out), which the next run
reads as ``data.extra_labels``.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["EXPORT_NAME", "write_review_page"]

EXPORT_NAME = "reviewed_labels.csv"

_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;background:#f4f4f4;color:#222}
header{position:sticky;top:0;background:#fff;border-bottom:1px solid #ccc;padding:8px 16px;z-index:1;
 display:flex;gap:16px;align-items:center;flex-wrap:wrap}
header h1{font-size:16px;margin:0}
button{cursor:pointer}
section{padding:8px 16px}
section h2{font-size:15px;margin:8px 0;display:flex;gap:12px;align-items:center}
.grid{display:flex;flex-wrap:wrap;gap:8px}
.card{background:#fff;border:2px solid #ddd;border-radius:6px;padding:4px;width:150px;font-size:12px}
.card img{display:block;height:64px;max-width:142px;margin:0 auto 2px;image-rendering:pixelated}
.card .name{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.card.disagree{border-color:#e08a00}
.card.disagree .aux{color:#b36b00;font-weight:600}
.card.accept{background:#e6f6e6;border-color:#2a2}
.card.relabel{background:#e6eefc;border-color:#36c}
.card.reject{background:#fbe4e4;border-color:#c33;opacity:.7}
.card select{width:100%}
.card .buttons{display:flex;gap:4px;margin-top:2px}
.card .buttons button{flex:1;white-space:nowrap;font-size:11px;padding:1px}
.hidden{display:none}
"""

_SCRIPT = r"""
const DATA = JSON.parse(document.getElementById('data').textContent);
const decisions = {};  // index -> {state: 'accept'|'relabel'|'reject', label}
function render() {
  const main = document.getElementById('groups');
  const groups = {};
  DATA.items.forEach((item, i) => { (groups[item.label] = groups[item.label] || []).push(i); });
  DATA.classes.filter(c => groups[c]).forEach(cls => {
    const idx = groups[cls].sort((a, b) => DATA.items[b].prob - DATA.items[a].prob);
    const sec = document.createElement('section');
    sec.dataset.label = cls;
    const h = document.createElement('h2');
    h.textContent = cls + ' (' + idx.length + ')';
    const all = document.createElement('button');
    all.textContent = 'accept all undecided';
    all.className = 'accept-all';
    all.onclick = () => idx.forEach(i => { if (!decisions[i]) decide(i, 'accept'); });
    h.appendChild(all);
    sec.appendChild(h);
    const grid = document.createElement('div');
    grid.className = 'grid';
    idx.forEach(i => grid.appendChild(card(i)));
    sec.appendChild(grid);
    main.appendChild(sec);
  });
  count();
}
function card(i) {
  const item = DATA.items[i];
  const div = document.createElement('div');
  div.className = 'card' + (item.agree === false ? ' disagree' : '');
  div.id = 'card-' + i;
  div.dataset.path = item.path;
  div.title = item.path;
  if (item.thumb) { const img = document.createElement('img'); img.src = item.thumb; img.alt = item.name;
    div.appendChild(img); }
  const name = document.createElement('div'); name.className = 'name'; name.textContent = item.name;
  div.appendChild(name);
  const f = document.createElement('div');
  f.textContent = 'F: ' + item.label + ' ' + item.prob.toFixed(2) + (item.confident ? ' \u2713' : '');
  div.appendChild(f);
  if (item.aux) { const a = document.createElement('div'); a.className = 'aux';
    a.textContent = 'A: ' + item.aux + ' ' + item.aux_prob.toFixed(2); div.appendChild(a); }
  const sel = document.createElement('select');
  sel.className = 'label';
  DATA.classes.forEach(c => { const o = document.createElement('option'); o.value = c; o.textContent = c;
    if (c === item.label) o.selected = true; sel.appendChild(o); });
  sel.onchange = () => decide(i, sel.value === item.label ? 'accept' : 'relabel');
  div.appendChild(sel);
  const buttons = document.createElement('div'); buttons.className = 'buttons';
  [['accept', '\u2713 accept'], ['reject', '\u2717 reject']].forEach(([state, text]) => {
    const b = document.createElement('button'); b.className = state; b.textContent = text;
    b.onclick = () => decide(i, state === 'accept' && sel.value !== item.label ? 'relabel' : state);
    buttons.appendChild(b); });
  div.appendChild(buttons);
  return div;
}
function decide(i, state) {
  const div = document.getElementById('card-' + i);
  const label = div.querySelector('select').value;
  decisions[i] = {state, label};
  div.classList.remove('accept', 'relabel', 'reject');
  div.classList.add(state);
  count();
}
function count() {
  const n = {accept: 0, relabel: 0, reject: 0};
  Object.values(decisions).forEach(d => n[d.state]++);
  document.getElementById('counts').textContent = n.accept + ' accepted, ' + n.relabel + ' relabelled, ' +
    n.reject + ' rejected, ' + (DATA.items.length - n.accept - n.relabel - n.reject) + ' undecided';
}
function csvField(text) { return /[",\n\r]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text; }
function exportCsv() {
  const lines = ['path,label'];
  Object.keys(decisions).map(Number).sort((a, b) => a - b).forEach(i => {
    const d = decisions[i];
    if (d.state !== 'reject') lines.push(csvField(DATA.items[i].path) + ',' + csvField(d.label));
  });
  return lines.join('\n') + '\n';
}
function download() {
  const blob = new Blob([exportCsv()], {type: 'text/csv'});
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = DATA.export_name;
  document.body.appendChild(a); a.click(); a.remove();
}
document.getElementById('export').onclick = download;
document.getElementById('only-disagree').onchange = e => {
  document.querySelectorAll('.card').forEach(c => c.classList.toggle('hidden',
    e.target.checked && !c.classList.contains('disagree')));
};
render();
"""


def write_review_page(
    path: Path, rows: Sequence[tuple[Any, str]], class_names: Sequence[str], title: str
) -> Path:
    """Write the page for ``(row, thumbnail data URI)`` pairs (``cmpl.commands.label.LabelRow`` rows)."""
    items = [
        {
            "path": row.path,
            "name": "/".join(Path(row.path).parts[-2:]),  # folder/file: file names alone repeat
            "label": row.label,
            "prob": round(row.prob, 4),
            "confident": row.confident,
            "aux": None if row.aux is None else row.aux[0],
            "aux_prob": None if row.aux is None else round(row.aux[1], 4),
            "agree": row.agree,
            "thumb": thumb,
        }
        for row, thumb in rows
    ]
    data = {"classes": list(class_names), "items": items, "export_name": EXPORT_NAME}
    payload = json.dumps(data).replace("</", "<\\/")  # never closes the script element early
    disagree = sum(1 for it in items if it["agree"] is False)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_STYLE}</style></head>
<body>
<header><h1>{html.escape(title)}: {len(items)} videos, {disagree} where A disagrees</h1>
<span id="counts"></span>
<label><input type="checkbox" id="only-disagree"> disagreements only</label>
<button id="export">Export {EXPORT_NAME}</button>
<span>use the file as <code>data.extra_labels=...</code></span></header>
<main id="groups"></main>
<script type="application/json" id="data">{payload}</script>
<script>{_SCRIPT}</script>
</body></html>
"""
    path.write_text(page, encoding="utf-8")
    return path
