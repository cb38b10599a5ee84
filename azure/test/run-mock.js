// Runs l0.js with MockTestRunner (offline: nodePath is this node) and prints what the
// runner saw as one JSON line, for the Rust test that drives it.
'use strict';
const path = require('path');
const { MockTestRunner } = require('azure-pipelines-task-lib/mock-test');

(async () => {
  const runner = new MockTestRunner(path.join(__dirname, 'l0.js'), process.env.L0_TASK_JSON);
  runner.nodePath = process.execPath;
  await runner.runAsync();
  process.stdout.write(JSON.stringify({ succeeded: runner.succeeded, stdout: runner.stdout, stderr: runner.stderr }) + '\n');
})().catch((e) => {
  console.error(e);
  process.exit(2);
});
