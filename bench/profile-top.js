// Prints the top frames of a V8 .cpuprofile (from `node --cpu-prof`, e.g. `bench/run.js
// --profile`): self time per function, and inclusive time for the busiest call paths' owners.
//
//   node bench/profile-top.js bench/results/profiles/small-r1-switchboard.cpuprofile [N]
import fs from 'node:fs';
import path from 'node:path';

const [file, limitArg] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: node bench/profile-top.js FILE.cpuprofile [N]');
  process.exit(2);
}
const limit = Number(limitArg ?? 25);
const profile = JSON.parse(fs.readFileSync(file, 'utf8'));

const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

// Time per sample: the delta that follows it (V8's convention).
const selfMs = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
  selfMs.set(profile.samples[i], (selfMs.get(profile.samples[i]) ?? 0) + dt);
}
const total = [...selfMs.values()].reduce((a, b) => a + b, 0);

function frameName(node) {
  const f = node.callFrame;
  const where = f.url ? `${path.relative(process.cwd(), f.url.replace(/^file:\/\//, '')) || f.url}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
}

const self = new Map();
const inclusive = new Map();
for (const [id, ms] of selfMs) {
  const name = frameName(nodes.get(id));
  self.set(name, (self.get(name) ?? 0) + ms);
  // Each function counted once per sample even when recursive.
  const seen = new Set();
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const owner = frameName(nodes.get(at));
    if (seen.has(owner)) continue;
    seen.add(owner);
    inclusive.set(owner, (inclusive.get(owner) ?? 0) + ms);
  }
}

const show = (title, map) => {
  console.log(`\n${title} (of ${total.toFixed(0)} ms sampled)`);
  for (const [name, ms] of [...map].sort((a, b) => b[1] - a[1]).slice(0, limit)) {
    console.log(`${((ms / total) * 100).toFixed(1).padStart(5)}%  ${ms.toFixed(0).padStart(7)} ms  ${name}`);
  }
};
show('Self time', self);
show('Inclusive time', inclusive);
