// Reads command lines (one JSON array of arguments per line on stdin) the way @sonar/scan does:
// its own commander program (the option chain of @sonar/scan's src/runner.js, taken from that
// file, on the commander it depends on), then its own getProperties, in an empty directory
// and environment. Prints one JSON object per line: {"props": {...}} or {"error": "..."}.
// Usage: node sonar_scan_cli.mjs <node_modules dir>. Used by tests/differential.rs.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = process.argv[2];
const scan = path.join(modules, '@sonar/scan');
const { Command } = await import(pathToFileURL(path.join(modules, 'commander/index.js')).href);
const { getProperties } = await import(pathToFileURL(path.join(scan, 'src/properties.js')).href);
const { version } = await import(pathToFileURL(path.join(scan, 'src/version.js')).href);

// The program definition: the `program.option(...)...;` statement of runner.js.
const runner = fs.readFileSync(path.join(scan, 'src/runner.js'), 'utf8');
const chain = runner.match(/program\s*(\.(?:option|version)\([^;]*?\))\s*;/s);
if (!chain) throw new Error('no program definition found in runner.js');
const define = new Function('program', 'version', `program${chain[1]};`);

// `--options`: print the program's declared options and stop.
if (process.argv[3] === '--options') {
  const program = new Command();
  define(program, version);
  const options = program.options.map(o => [o.short, o.long, o.required || o.optional, o.variadic]);
  process.stdout.write(JSON.stringify(options) + '\n');
  process.exit(0);
}

// The bootstrapper logs through process.stdout; the results go to fd 1 directly.
process.stdout.write = () => true;
process.stderr.write = () => true;
const results = [];
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = Buffer.concat(chunks).toString('utf8').split('\n').filter(Boolean);
for (const line of input) {
  const args = JSON.parse(line);
  const program = new Command();
  program.exitOverride();
  program.configureOutput({ writeOut: () => {}, writeErr: () => {} });
  define(program, version);
  let result;
  try {
    program.parse(args, { from: 'user' });
    const props = getProperties({}, 0, program.opts());
    result = { props };
  } catch (e) {
    result = { error: e.code ?? e.message };
  }
  results.push(JSON.stringify(result));
}
const bytes = Buffer.from(results.join('\n') + '\n');
for (let at = 0; at < bytes.length; ) {
  try {
    at += fs.writeSync(1, bytes, at);
  } catch (e) {
    if (e.code !== 'EAGAIN') throw e;
  }
}
