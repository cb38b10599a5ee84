// One task run, as the agent starts it: inputs become INPUT_<NAME> variables (upper-cased,
// '.' and ' ' to '_'), then the task's entry point runs in this process.
//
// Not TaskMockRunner: it loads azure-pipelines-task-lib into this process first, and the
// library moves INPUT_*, ENDPOINT_AUTH_* and SECRET_* out of process.env, which is exactly
// what the wrapper avoids. L0_IMPORT_TASK_LIB=1 does that on purpose, to show it.
'use strict';

for (const [name, value] of Object.entries(JSON.parse(process.env.L0_INPUTS || '{}'))) {
  process.env['INPUT_' + name.replace(/[. ]/g, '_').toUpperCase()] = value;
}
if (process.env.L0_IMPORT_TASK_LIB === '1') {
  require('azure-pipelines-task-lib/task');
}
require(process.env.L0_TASK);
