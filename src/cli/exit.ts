import { CommanderError } from 'commander';
import { TesseraError } from '../core/errors.ts';
import { CliError, USAGE_EXIT } from './cli-error.ts';

/** Commander's own exits that are not failures: --help, --version. */
const COMMANDER_QUIET = new Set(['commander.helpDisplayed', 'commander.version', 'commander.executeSubCommandAsync']);

/** A message of several lines (a list of problems, a child's log tail) still makes one line, "; " between them. */
function oneLine(text: string): string {
  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  return lines.reduce(
    (joined, line) => (joined === '' ? line : `${joined}${joined.endsWith(':') ? ' ' : '; '}${line}`),
    '',
  );
}

/**
 * What the CLI prints for an error that ended a command, and its exit status: one line, `tessera:
 * <message>`. Only an error nobody anticipated (not a TesseraError) gets a stack, and only when
 * `debug` is set, since a stack helps whoever fixes the bug and buries the message for everyone else.
 */
export function errorReport(error: unknown, debug: boolean): { readonly text: string; readonly exitCode: number } {
  if (error instanceof CommanderError) {
    if (COMMANDER_QUIET.has(error.code)) return { text: '', exitCode: error.exitCode };
    // commander.help: `tessera` alone, whose help commander has already printed
    if (error.code === 'commander.help') return { text: '', exitCode: USAGE_EXIT };
    const message = oneLine(error.message.replace(/^error: /, ''));
    return { text: `tessera: ${message} (add --help for the options)\n`, exitCode: USAGE_EXIT };
  }
  if (error instanceof TesseraError) {
    return {
      text: `tessera: ${oneLine(error.message)}\n`,
      exitCode: error instanceof CliError ? error.exitCode : 1,
    };
  }
  const message = oneLine(error instanceof Error ? error.message : String(error)) || 'unknown error';
  if (debug) {
    const stack = error instanceof Error && error.stack !== undefined ? error.stack : String(error);
    return { text: `tessera: ${message}\n${stack}\n`, exitCode: 1 };
  }
  return { text: `tessera: ${message} (run with TESSERA_DEBUG=1 for the stack)\n`, exitCode: 1 };
}

/** An error's code as Node sets it on system errors (EPIPE, ECONNREFUSED, ...). */
const systemCode = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code;

/**
 * Output into a closed pipe (`tessera chain blocks | head`) ends the command quietly with status 0,
 * as `git log | head` does: the reader has all it wanted. Node ignores SIGPIPE, so the closed pipe
 * arrives as an EPIPE error on the stream instead. A closed stderr costs only the messages: the exit
 * status still tells a failure.
 */
export function endQuietlyOnClosedPipe(exit: (code: number) => never = process.exit): void {
  process.stdout.on('error', (error) => {
    if (systemCode(error) === 'EPIPE') exit(0);
    throw error;
  });
  process.stderr.on('error', (error) => {
    if (systemCode(error) !== 'EPIPE') throw error;
  });
}
