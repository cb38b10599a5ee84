// The Azure Pipelines task's entry point: starts the bundled scantoken binary for the
// agent's platform with the environment unchanged, and passes its exit code on.
//
// Deliberately dependency-free: importing azure-pipelines-task-lib would delete the
// INPUT_*, ENDPOINT_AUTH_* and SECRET_* variables from process.env (docs/sonar-facts.md §6), and scantoken
// reads its inputs, the service connection and the token from exactly those.
'use strict';

const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const platforms = { linux: 'linux', darwin: 'macos', win32: 'windows' };
const arches = { x64: 'x64', arm64: 'arm64' };

function fail(message) {
  // Logging-command data escaping: % first, then CR and LF.
  const data = String(message).replace(/%/g, '%AZP25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  process.stdout.write(`##vso[task.logissue type=error]${data}\n`);
  process.stdout.write(`##vso[task.complete result=Failed]${data}\n`);
  process.exitCode = 1;
}

function main() {
  const platform = platforms[process.platform];
  const arch = arches[process.arch];
  const exe = path.join(__dirname, 'bin', `${platform}-${arch}`, process.platform === 'win32' ? 'scantoken.exe' : 'scantoken');
  if (!platform || !arch || !fs.existsSync(exe)) {
    fail(`scantoken has no binary for ${process.platform}/${process.arch} in this task (looked for ${exe})`);
    return;
  }
  if (process.platform !== 'win32') {
    // A .vsix is a zip, which keeps no Unix permissions: the agent extracts the binary
    // without its executable bit, so set it before starting it.
    try {
      fs.chmodSync(exe, 0o755);
    } catch (e) {
      let executable = true;
      try {
        fs.accessSync(exe, fs.constants.X_OK);
      } catch (_) {
        executable = false;
      }
      if (!executable) {
        fail(`scantoken could not make ${exe} executable (chmod 755: ${e.message}); the agent's user must own the task folder`);
        return;
      }
    }
  }
  // With a scan command, scantoken verifies that scan and runs it (the token in its
  // environment alone); otherwise it exports the variables for the steps that follow.
  const scan = (process.env.INPUT_SCANCOMMAND || '').trim() !== '';
  const args = scan ? ['run'] : ['export', '--format', 'azure'];
  const result = spawnSync(exe, args, { stdio: 'inherit', env: process.env });
  if (result.error) {
    fail(`scantoken could not start: ${result.error.message}`);
    return;
  }
  if (result.status !== 0) {
    // scantoken has already explained why (logissue lines); this marks the task failed.
    process.stdout.write(`##vso[task.complete result=Failed]${scan ? 'the scan' : 'scantoken'} exited with code ${result.status}\n`);
    process.exitCode = result.status === null ? 1 : result.status;
  }
}

main();
