// README's "Add Latchkey to your Tauri app" against examples/quickstart: every line the quickstart
// adds to or removes from the create-tauri-app scaffold (the commit that first added the example:
// the pristine scaffold) is shown in the README's diff blocks, and nothing else; each block is a
// true excerpt (its new side in the file as it is, its old side in the scaffold); and the line
// counts the README states are the counted ones, within the budget (~30 Rust, ~30 TS).
// Run by the test command: node --test examples/
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';

const root = resolve(import.meta.dirname, '..');
const example = 'examples/quickstart';
const git = (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8' });

function scaffoldCommit() {
  let added;
  try {
    added = git('log', '--diff-filter=A', '--format=%H', '--', `${example}/src-tauri/src/lib.rs`).trim().split('\n');
  } catch (e) {
    throw new Error(`this test reads the scaffold from git history: ${e.message}`);
  }
  const commit = added.at(-1);
  assert.ok(commit, 'no commit added the scaffold (a shallow clone? git fetch --unshallow)');
  return commit;
}

// The section's ```diff blocks: { file, details, segments: [[{ sign, text }]] }. A block's file is
// the `path` that starts the paragraph just above it; `@@` lines separate excerpts.
function readmeBlocks() {
  const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Add Latchkey to your Tauri app\n');
  assert.ok(start >= 0, 'README has no "Add Latchkey to your Tauri app" section');
  const end = readme.indexOf('\n## ', start + 1);
  const lines = readme.slice(start, end < 0 ? undefined : end).split('\n');
  const blocks = [];
  let details = false;
  for (let i = 0; i < lines.length; i += 1) {
    if (lines[i].startsWith('<details>')) details = true;
    if (lines[i] !== '```diff') continue;
    let j = i - 1;
    while (j > 0 && lines[j].trim() === '') j -= 1;
    while (j > 0 && lines[j - 1].trim() !== '') j -= 1; // the paragraph's first line
    const caption = /^`([^`]+)`/.exec(lines[j]);
    assert.ok(caption, `the diff block at section line ${i} has no \`file\` caption above it`);
    const segments = [[]];
    for (i += 1; lines[i] !== '```'; i += 1) {
      assert.ok(i < lines.length, `unterminated diff block for ${caption[1]}`);
      const line = lines[i];
      if (line.startsWith('@@')) segments.push([]);
      else if (line === '') segments.at(-1).push({ sign: ' ', text: '' });
      else {
        assert.ok('+- '.includes(line[0]), `${caption[1]}: "${line}" is not a diff line`);
        segments.at(-1).push({ sign: line[0], text: line.slice(1) });
      }
    }
    blocks.push({ file: caption[1], details, segments });
  }
  assert.ok(blocks.length > 0, 'the section shows no diff');
  return blocks;
}

// What the quickstart changes, per file: the "+text" / "-text" lines (its README is prose, not code).
function exampleChanges(commit) {
  const changes = new Map();
  let file;
  for (const line of git('diff', '-U0', '--no-color', '--no-renames', commit, '--', example, `:(exclude)${example}/README.md`).split('\n')) {
    const header = /^\+\+\+ b\/(.*)$/.exec(line) ?? /^--- a\/(.*)$/.exec(line);
    if (header) {
      file = header[1].slice(example.length + 1);
      if (!changes.has(file)) changes.set(file, []);
    } else if (/^[+-]/.test(line) && !line.startsWith('+++') && !line.startsWith('---')) {
      changes.get(file).push(line);
    }
  }
  return changes;
}

function isExcerpt(haystack, needle) {
  const lines = haystack.split('\n');
  for (let at = 0; at + needle.length <= lines.length; at += 1) {
    if (needle.every((line, k) => lines[at + k] === line)) return true;
  }
  return false;
}

const commit = scaffoldCommit();
const blocks = readmeBlocks();

test('every diff block in the README is a true excerpt: new side in the example, old side in the scaffold', () => {
  for (const { file, segments } of blocks) {
    const now = readFileSync(resolve(root, example, file), 'utf8');
    const then = git('show', `${commit}:${example}/${file}`);
    for (const segment of segments) {
      const after = segment.filter((l) => l.sign !== '-').map((l) => l.text);
      const before = segment.filter((l) => l.sign !== '+').map((l) => l.text);
      assert.ok(isExcerpt(now, after), `${file}: the README's lines are not in the example as shown:\n${after.join('\n')}`);
      assert.ok(isExcerpt(then, before), `${file}: the README's context is not in the scaffold as shown:\n${before.join('\n')}`);
    }
  }
});

test("the README shows exactly the quickstart's changes to the scaffold, file by file", () => {
  const shown = new Map();
  for (const { file, segments } of blocks) {
    for (const l of segments.flat()) {
      if (l.sign === ' ') continue;
      if (!shown.has(file)) shown.set(file, []);
      shown.get(file).push(l.sign + l.text);
    }
  }
  const changed = exampleChanges(commit);
  const sorted = (m) => Object.fromEntries([...m].map(([f, ls]) => [f, [...ls].sort()]).sort());
  assert.deepEqual(sorted(shown), sorted(changed));
});

test('the line counts the README states are the counted ones, within the budget', () => {
  const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
  const stated = /(\d+) lines of Rust, (\d+) of TypeScript and (\d+) of HTML/.exec(readme);
  assert.ok(stated, 'README does not state "N lines of Rust, N of TypeScript and N of HTML"');
  const added = (ext) =>
    blocks
      .filter((b) => !b.details && b.file.endsWith(ext))
      .flatMap((b) => b.segments.flat())
      .filter((l) => l.sign === '+').length;
  const counted = { rust: added('.rs'), ts: added('.ts'), html: added('.html') };
  assert.deepEqual(counted, { rust: Number(stated[1]), ts: Number(stated[2]), html: Number(stated[3]) });
  assert.ok(counted.rust <= 30, `${counted.rust} lines of Rust: over the ~30 the quickstart promises`);
  assert.ok(counted.ts <= 30, `${counted.ts} lines of TypeScript: over the ~30 the quickstart promises`);
});
