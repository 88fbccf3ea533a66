// A DAP session on "gorigin dap" driven by a client written by others: the DebugClient of
// @vscode/debugadapter-testsupport, the one VS Code's own debug adapters are tested with.
// integration/dap_node_test.go runs this with the environment below, after starting the
// fixture and reading the runtime's own goroutine dump:
//
//   GORIGIN_BIN     the gorigin command
//   FIXTURE_PID     the fixture's pid
//   ORACLE_GROUPS   JSON {"spawn.go:127": 200, ...}: goroutines per go statement (file
//                   base name and line) in the runtime's debug=2 dump
//   LARGEST_GO      "ABS/PATH/spawn.go:127": the go statement of the largest group
'use strict';

const { test } = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { DebugClient } = require('@vscode/debugadapter-testsupport');

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this from integration/dap_node_test.go`);
  return v;
};

test('gorigin dap: group threads, the stack of the go statement, the group\'s goroutines', async () => {
  const pid = Number(env('FIXTURE_PID'));
  const oracle = JSON.parse(env('ORACLE_GROUPS'));
  const [largestFile, largestLine] = env('LARGEST_GO').split(/:(?=\d+$)/);

  const dc = new DebugClient(env('GORIGIN_BIN'), 'dap', 'gorigin', {}, true);
  dc.defaultTimeout = 30000;
  await dc.start();
  try {
    // The sequence VS Code runs: initialize, attach and, on "initialized",
    // configurationDone; the adapter then stops on its snapshot.
    const init = await dc.initializeRequest({ adapterID: 'gorigin', linesStartAt1: true, columnsStartAt1: true, supportsProgressReporting: true });
    assert.ok(init.body.supportsConfigurationDoneRequest, 'configurationDone is supported');
    assert.ok(!init.body.supportsStepBack && !init.body.supportsSetVariable, 'no capability gorigin lacks is claimed');
    // (DebugClient's configurationSequence sends configurationDone only after its own
    // launch helper; an attach session sends it by hand, as VS Code does.)
    const [, , stopped] = await Promise.all([
      dc.waitForEvent('initialized').then(() => dc.configurationDoneRequest()),
      dc.attachRequest({ processId: pid, groupThreshold: -1 }),
      dc.waitForEvent('stopped'),
    ]);

    // Threads are groups: "N × state — file:line start", with the runtime's counts.
    const threads = (await dc.threadsRequest()).body.threads;
    const seen = {};
    for (const t of threads) {
      const m = /^([\d,]+) × .+ — (\S+:\d+) /.exec(t.name);
      if (!m) continue; // a group without a go statement (main)
      seen[m[2]] = (seen[m[2]] || 0) + Number(m[1].replace(/,/g, ''));
    }
    for (const [where, n] of Object.entries(oracle)) {
      assert.strictEqual(seen[where], n, `goroutines created at ${where}: threads say ${seen[where]}, the runtime ${n}`);
    }
    assert.strictEqual(stopped.body.threadId, threads[0].id, 'the stopped event focuses the largest group');

    // The largest group's stack: the representative's frames, then its go statement,
    // in a file the IDE can open.
    const frames = (await dc.stackTraceRequest({ threadId: threads[0].id })).body.stackFrames;
    const last = frames[frames.length - 1];
    assert.match(last.name, /^created by /);
    assert.strictEqual(last.source.path, largestFile);
    assert.strictEqual(last.line, Number(largestLine));
    assert.ok(path.isAbsolute(last.source.path));

    // Its goroutines through variables: the Group scope, then all of them, paged.
    const scopes = (await dc.scopesRequest({ frameId: last.id })).body.scopes;
    const group = scopes.find((s) => s.name === 'Group');
    assert.ok(group, `scopes ${scopes.map((s) => s.name)} have a Group`);
    const fields = (await dc.variablesRequest({ variablesReference: group.variablesReference })).body.variables;
    const members = fields.find((v) => v.name === 'goroutines');
    const count = Number(fields.find((v) => v.name === 'count').value);
    assert.strictEqual(members.indexedVariables, count);
    assert.strictEqual(count, oracle[`${path.basename(largestFile)}:${largestLine}`]);
    const ids = new Set();
    for (let start = 0; start < count; start += 100) {
      const page = (await dc.variablesRequest({ variablesReference: members.variablesReference, filter: 'indexed', start, count: 100 })).body.variables;
      for (const v of page) ids.add(v.name);
    }
    assert.strictEqual(ids.size, count, 'every goroutine of the group is reachable');

    const one = (await dc.variablesRequest({ variablesReference: members.variablesReference, filter: 'indexed', start: 0, count: 1 })).body.variables[0];
    const g = (await dc.variablesRequest({ variablesReference: one.variablesReference })).body.variables;
    const field = (name) => g.find((v) => v.name === name).value;
    assert.strictEqual(field('status'), 'waiting');
    assert.strictEqual(field('waitReason'), 'chan receive');
    assert.ok(field('origin').endsWith(`${largestFile}:${largestLine}`), field('origin'));

    // The REPL.
    const groups = await dc.evaluateRequest({ expression: 'groups', context: 'repl' });
    assert.match(groups.body.result, new RegExp(`${path.basename(largestFile)}:${largestLine}`));
  } finally {
    await dc.stop();
  }
});
