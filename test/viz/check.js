// test/viz/check.js -- structural checks of ppprof's flame graphs and
// exports, for test/t/018_visualize.pl.
//
//   node check.js FILE...
//
// By the file's name: *.svg is parsed with saxes (a strict, namespace-aware
// XML parser) and its frames checked; speedscope*.json is validated against
// the JSON schema shipped in the speedscope package (with ajv) and its
// events replayed; chrome*.json is read as JSON and its "X" events checked
// to nest on every row (tid).  Prints one "ok - ..." or "not ok - ..." line
// per check, then "summary {json}" with what was counted, for the TAP test
// to compare with the database.
'use strict';

const fs = require('fs');
const path = require('path');
const { SaxesParser } = require('saxes');
const Ajv = require('ajv');

const EPS = 0.01; // px: the SVG prints 3 decimals
let failures = 0;
const summary = {};

function check(cond, what, detail) {
  if (cond) {
    console.log(`ok - ${what}`);
  } else {
    failures++;
    console.log(`not ok - ${what}${detail ? ': ' + detail : ''}`);
  }
}

// Elements and attributes a self-contained SVG of ours may hold.
const ELEMENTS = new Set(['svg', 'title', 'desc', 'rect', 'text', 'line', 'g']);

function checkSvg(file) {
  const name = path.basename(file);
  const text = fs.readFileSync(file, 'utf8');
  const parser = new SaxesParser({ xmlns: true });
  const frames = [];
  const stack = [];
  const bad = [];
  let parseError = null;
  let titleText = null;
  parser.on('error', (e) => { if (!parseError) parseError = e.message; });
  parser.on('opentag', (node) => {
    if (!ELEMENTS.has(node.local)) bad.push(`element <${node.name}>`);
    for (const a of Object.values(node.attributes)) {
      if (/^on/i.test(a.local) || /href$/i.test(a.local) || /url\(/i.test(a.value))
        bad.push(`attribute ${a.name}="${a.value}"`);
    }
    const parent = stack[stack.length - 1];
    const entry = { node, frame: null };
    if (node.local === 'g' && node.attributes.class && node.attributes.class.value === 'frame') {
      const attr = (k) => (node.attributes[k] ? node.attributes[k].value : undefined);
      entry.frame = {
        id: attr('id'), parent: attr('data-parent'),
        ms: Number(attr('data-ms')), scale: attr('data-scale') ? Number(attr('data-scale')) : 1,
        tooltip: '', x: NaN, y: NaN, w: NaN,
      };
      frames.push(entry.frame);
    } else if (parent && parent.frame && node.local === 'rect') {
      parent.frame.x = Number(node.attributes.x.value);
      parent.frame.y = Number(node.attributes.y.value);
      parent.frame.w = Number(node.attributes.width.value);
    } else if (node.local === 'title' && parent && parent.frame) {
      entry.tooltipOf = parent.frame;
    } else if (node.local === 'title' && parent && parent.node.local === 'svg') {
      entry.docTitle = true;
    }
    stack.push(entry);
  });
  parser.on('text', (t) => {
    const top = stack[stack.length - 1];
    if (top && top.tooltipOf) top.tooltipOf.tooltip += t;
    if (top && top.docTitle) titleText = (titleText || '') + t;
  });
  parser.on('closetag', () => { stack.pop(); });
  try {
    parser.write(text).close();
  } catch (e) {
    if (!parseError) parseError = e.message;
  }
  check(parseError === null, `${name} parses as XML`, parseError);
  if (parseError !== null) return;
  check(bad.length === 0, `${name} has no script, link or unknown element`, bad.slice(0, 3).join(', '));
  check(titleText !== null && titleText.length > 0, `${name} has a title`);

  const byId = new Map(frames.map((f) => [f.id, f]));
  const roots = frames.filter((f) => f.parent === undefined);
  // px per ms from the roots, drawn at scale 1
  const rootMs = roots.reduce((s, f) => s + f.ms, 0);
  const rootPx = roots.reduce((s, f) => s + f.w, 0);
  const pxPerMs = rootMs > 0 ? rootPx / rootMs : 0;
  const problems = { wider: [], outside: [], proportion: [], overlap: [], tooltip: [], parent: [] };
  const childPx = new Map();
  for (const f of frames) {
    if (!f.tooltip.trim()) problems.tooltip.push(f.id);
    // a proportional width: the measure times the scale it was drawn at
    if (Math.abs(f.w - f.ms * f.scale * pxPerMs) > 1)
      problems.proportion.push(`${f.id} ${f.w} px for ${f.ms} ms x ${f.scale}`);
    if (f.parent === undefined) continue;
    const p = byId.get(f.parent);
    if (!p) { problems.parent.push(f.id); continue; }
    if (f.w > p.w + EPS) problems.wider.push(`${f.id} ${f.w} > ${p.id} ${p.w}`);
    if (f.x < p.x - EPS || f.x + f.w > p.x + p.w + EPS) problems.outside.push(f.id);
    if (f.y <= p.y) problems.parent.push(`${f.id} not below ${p.id}`);
    childPx.set(p.id, (childPx.get(p.id) || 0) + f.w);
  }
  // frames of one row never overlap
  const rows = new Map();
  for (const f of frames) {
    if (!rows.has(f.y)) rows.set(f.y, []);
    rows.get(f.y).push(f);
  }
  for (const row of rows.values()) {
    row.sort((a, b) => a.x - b.x);
    for (let i = 1; i < row.length; i++)
      if (row[i - 1].x + row[i - 1].w > row[i].x + EPS)
        problems.overlap.push(`${row[i - 1].id} and ${row[i].id}`);
  }
  check(frames.length > 0, `${name} has frames`);
  check(pxPerMs > 0, `${name} roots give a scale`);
  check(problems.parent.length === 0, `${name}: every frame's parent exists and is above it`, problems.parent.slice(0, 3).join('; '));
  check(problems.wider.length === 0, `${name}: no child wider than its parent`, problems.wider.slice(0, 3).join('; '));
  check(problems.outside.length === 0, `${name}: every child within its parent`, problems.outside.slice(0, 3).join('; '));
  check(problems.proportion.length === 0, `${name}: widths proportional to time within a pixel`, problems.proportion.slice(0, 3).join('; '));
  check(problems.overlap.length === 0, `${name}: no two frames of a row overlap`, problems.overlap.slice(0, 3).join('; '));
  check(problems.tooltip.length === 0, `${name}: every frame has a tooltip`, problems.tooltip.slice(0, 3).join('; '));
  // merged by path, the children of a frame are side by side, never wider
  // together than it is (on a profile's timeline parallel children are in
  // separate rows instead, which the overlap check covers)
  if (!name.startsWith('profile')) {
    const sums = [];
    for (const [id, px] of childPx) if (px > byId.get(id).w + 1) sums.push(`${id}: ${px} > ${byId.get(id).w}`);
    check(sums.length === 0, `${name}: children together within their parent's width`, sums.slice(0, 3).join('; '));
  }
  summary[name] = {
    frames: frames.length, rows: rows.size, px_per_ms: pxPerMs,
    tooltips: frames.length <= 50 ? frames.map((f) => f.tooltip) : [],
  };
}

function checkSpeedscope(file) {
  const name = path.basename(file);
  const schemaFile = require.resolve('speedscope/dist/release/file-format-schema.json');
  const schema = JSON.parse(fs.readFileSync(schemaFile, 'utf8'));
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validate = ajv.compile(schema);
  const valid = validate(doc);
  check(valid, `${name} validates against speedscope's file-format-schema.json`, JSON.stringify(validate.errors));
  check(doc.$schema === 'https://www.speedscope.app/file-format-schema.json', `${name} names speedscope's schema`);
  let opens = 0;
  const problems = [];
  for (const [pi, prof] of (doc.profiles || []).entries()) {
    if (prof.type !== 'evented') { problems.push(`profile ${pi} is ${prof.type}`); continue; }
    const st = [];
    let last = prof.startValue;
    for (const ev of prof.events) {
      if (ev.frame < 0 || ev.frame >= doc.shared.frames.length) problems.push(`profile ${pi}: frame ${ev.frame}`);
      if (ev.at < last) problems.push(`profile ${pi}: at ${ev.at} before ${last}`);
      if (ev.at > prof.endValue) problems.push(`profile ${pi}: at ${ev.at} after the end`);
      last = ev.at;
      if (ev.type === 'O') { st.push(ev.frame); opens++; }
      else if (st.pop() !== ev.frame) problems.push(`profile ${pi}: close of frame ${ev.frame} not on top`);
    }
    if (st.length) problems.push(`profile ${pi}: ${st.length} frames left open`);
  }
  check(problems.length === 0, `${name}: events balanced, nested and in time order on every profile`, problems.slice(0, 3).join('; '));
  const names = doc.shared.frames.map((f) => f.name);
  check(new Set(names).size === names.length, `${name}: shared frames are distinct`);
  summary[name] = { profiles: doc.profiles.length, opens, frames: names };
}

function checkChrome(file) {
  const name = path.basename(file);
  let doc;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    check(false, `${name} loads as JSON`, e.message);
    return;
  }
  check(Array.isArray(doc.traceEvents), `${name} loads as JSON with a traceEvents array`);
  const rows = new Map();
  const problems = [];
  let complete = 0;
  for (const ev of doc.traceEvents) {
    if (ev.ph === 'M') continue;
    if (ev.ph !== 'X') { problems.push(`phase ${ev.ph}`); continue; }
    complete++;
    if (!Number.isInteger(ev.ts) || !Number.isInteger(ev.dur) || ev.ts < 0 || ev.dur < 0)
      problems.push(`${ev.name}: ts ${ev.ts} dur ${ev.dur} are not whole microseconds`);
    if (typeof ev.name !== 'string' || ev.pid === undefined || ev.tid === undefined)
      problems.push('an event without name, pid or tid');
    if (!rows.has(ev.tid)) rows.set(ev.tid, []);
    rows.get(ev.tid).push(ev);
  }
  // in file order, each row's events form a stack: an event starts after the
  // previous one ended, or within the innermost one still open and ends
  // before it does
  for (const [tid, evs] of rows) {
    const st = [];
    let lastTs = -1;
    for (const ev of evs) {
      if (ev.ts < lastTs) problems.push(`tid ${tid}: ${ev.name} out of order`);
      lastTs = ev.ts;
      while (st.length && st[st.length - 1].ts + st[st.length - 1].dur <= ev.ts)
        st.pop();
      const top = st[st.length - 1];
      if (top && ev.ts + ev.dur > top.ts + top.dur)
        problems.push(`tid ${tid}: ${ev.name} [${ev.ts}, ${ev.ts + ev.dur}] overlaps ${top.name} [${top.ts}, ${top.ts + top.dur}]`);
      st.push(ev);
    }
  }
  check(problems.length === 0, `${name}: complete events, balanced and nested on every row`, problems.slice(0, 3).join('; '));
  summary[name] = { events: complete, rows: rows.size };
}

for (const file of process.argv.slice(2)) {
  const base = path.basename(file);
  if (base.endsWith('.svg')) checkSvg(file);
  else if (base.startsWith('speedscope')) checkSpeedscope(file);
  else if (base.startsWith('chrome')) checkChrome(file);
  else check(false, `${base}: unknown kind of file`);
}
console.log('summary ' + JSON.stringify(summary));
// exitCode, not exit(): a pipe gets all of stdout first
process.exitCode = failures ? 1 : 0;
