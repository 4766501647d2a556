import { Command, CommanderError } from 'commander';
import { registerRunCommand } from './commands/run.ts';
import { CliError } from './cli-error.ts';

const program = new Command()
  .name('tessera')
  .description('Run large language models across machines owned by independent operators.')
  .showHelpAfterError()
  .exitOverride();

registerRunCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  const exitCode = error instanceof CliError ? error.exitCode : 1;
  process.stderr.write(`tessera: ${(error as Error).message}\n`);
  process.exit(exitCode);
}
