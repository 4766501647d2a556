import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommanderError } from 'commander';
import { TesseraError } from '../core/errors.ts';
import { CliError } from './cli-error.ts';
import { errorReport } from './exit.ts';

test('a CliError is one line with its exit status; its code says usage or failure', () => {
  const usage = new CliError('--from must be an integer', 2);
  assert.deepEqual(errorReport(usage, false), { text: 'tessera: --from must be an integer\n', exitCode: 2 });
  assert.equal(usage.code, 'CLI_USAGE');
  assert.ok(usage instanceof TesseraError);
  const failed = new CliError('no daemon answers at 127.0.0.1:1', 1);
  assert.deepEqual(errorReport(failed, true), { text: 'tessera: no daemon answers at 127.0.0.1:1\n', exitCode: 1 });
  assert.equal(failed.code, 'CLI_FAILED');
});

test('any TesseraError is its message alone, exit 1, even when the message has several lines', () => {
  const error = new TesseraError('CONFIG_INVALID', 'invalid', 'c.json: 2 problems:\n  a: missing\n  b: too big\n');
  assert.deepEqual(errorReport(error, true), {
    text: 'tessera: c.json: 2 problems: a: missing; b: too big\n',
    exitCode: 1,
  });
});

test('an unexpected error is one line that says how to see the stack, which debug prints', () => {
  const error = new TypeError("Cannot read properties of undefined (reading 'x')");
  assert.deepEqual(errorReport(error, false), {
    text: "tessera: Cannot read properties of undefined (reading 'x') (run with TESSERA_DEBUG=1 for the stack)\n",
    exitCode: 1,
  });
  const debug = errorReport(error, true);
  assert.equal(debug.exitCode, 1);
  assert.ok(debug.text.startsWith("tessera: Cannot read properties of undefined (reading 'x')\nTypeError: "));
  assert.match(debug.text, /^\s+at /m);
  assert.equal(
    errorReport('a string thrown', false).text,
    'tessera: a string thrown (run with TESSERA_DEBUG=1 for the stack)\n',
  );
});

test("commander's usage errors exit 2 with one line; --help and --version exit quietly", () => {
  const unknown = new CommanderError(1, 'commander.unknownOption', "error: unknown option '--bogus'");
  assert.deepEqual(errorReport(unknown, false), {
    text: "tessera: unknown option '--bogus' (add --help for the options)\n",
    exitCode: 2,
  });
  assert.deepEqual(errorReport(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'), false), {
    text: '',
    exitCode: 0,
  });
});
