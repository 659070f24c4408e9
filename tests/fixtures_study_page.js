// Runs core/study/page.html's inline script in node with a minimal DOM stand-in, plays a rater, prints the
// answers file the page would download. Usage: node fixtures_study_page.js PACK_DIR RATER KEYS... (keys as typed;
// "P" toggles pause). Emits {"filename": ..., "answers": {...}, "progress": text} on stdout.
"use strict";
const fs = require("fs");
const path = require("path");
const vm = require("vm");

const [packDir, rater, ...keys] = process.argv.slice(2);
const html = fs.readFileSync(path.join(packDir, "index.html"), "utf8");
const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
const studyJs = fs.readFileSync(path.join(packDir, "study.js"), "utf8");

let clock = 1000;
const elements = {};
const docListeners = {};
let downloaded = null;
function element(id) {
  if (!elements[id]) {
    const classes = new Set(id === "resumeButton" ? ["hidden"] : []);
    elements[id] = {
      id, textContent: "", value: "", disabled: false, style: {}, listeners: {}, href: "", download: "",
      classList: {
        add: (c) => classes.add(c), remove: (c) => classes.delete(c), contains: (c) => classes.has(c),
        toggle: (c, on) => (on ? classes.add(c) : classes.delete(c)),
      },
      addEventListener(type, fn) { this.listeners[type] = fn; },
      click() { if (this.id === "download") downloaded = { name: this.download, href: this.href }; },
      set src(value) { this._src = value; if (this.onload) this.onload(); },
      get src() { return this._src; },
    };
  }
  return elements[id];
}
const blobs = {};
const storage = {};
const context = {
  window: { localStorage: { getItem: (k) => storage[k] ?? null, setItem: (k, v) => { storage[k] = v; } } },
  document: {
    getElementById: element,
    addEventListener: (type, fn) => { docListeners[type] = fn; },
  },
  performance: { now: () => clock },
  Image: function () { this.src = ""; },
  Blob: function (parts) { this.text = parts.join(""); },
  URL: { createObjectURL: (blob) => { const id = "blob:" + Object.keys(blobs).length; blobs[id] = blob; return id; } },
  JSON, Math, Date, Array, Object, parseInt, console,
};
context.window.INVARIANCE_STUDY = undefined;
vm.createContext(context);
vm.runInContext(studyJs.replace("window.INVARIANCE_STUDY", "window.INVARIANCE_STUDY"), context);
for (const code of scripts) vm.runInContext(code, context);

element("rater").value = rater;
element("startButton").listeners.click();
let pauses = 0;
for (const key of keys) {
  clock += 700;                       // every key press comes 700 ms after the previous one
  if (key === "P") {                  // a pause lasts a minute before the next key
    docListeners.keydown({ key: "p", repeat: false });
    pauses += 1;
    if (pauses % 2 === 1) clock += 60000;
    continue;
  }
  docListeners.keydown({ key, repeat: false });
}
const blob = downloaded && blobs[downloaded.href];
process.stdout.write(JSON.stringify({
  filename: downloaded && downloaded.name,
  answers: blob ? JSON.parse(blob.text) : null,
  progress: element("progress").textContent,
}));
