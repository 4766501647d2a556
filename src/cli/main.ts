import { Command, CommanderError } from 'commander';
import { registerRunCommand } from './commands/run.ts';
import { registerRegistryCommand } from './commands/registry.ts';
import { registerKeysCommand } from './commands/keys.ts';
import { registerChatCommand } from './commands/chat.ts';
import { registerStatusCommand } from './commands/status.ts';
import { registerGatewayCommand } from './commands/gateway.ts';
import { registerUpCommand } from './commands/up.ts';
import { registerShardCommand } from './commands/shard.ts';
import { registerNodeCommand } from './commands/node.ts';
import { registerPreflightCommand } from './commands/preflight.ts';
import { registerVerifierCommand } from './commands/verifier.ts';
import { registerDaemonCommand } from './commands/daemon.ts';
import { registerChainCommand } from './commands/chain.ts';
import { registerStakeCommands } from './commands/stake.ts';
import { CliError } from './cli-error.ts';

const program = new Command()
  .name('tessera')
  .description('Run large language models across machines owned by independent operators.')
  .showHelpAfterError()
  .exitOverride();

registerRunCommand(program);
registerRegistryCommand(program);
registerKeysCommand(program);
registerChatCommand(program);
registerStatusCommand(program);
registerGatewayCommand(program);
registerUpCommand(program);
registerShardCommand(program);
registerNodeCommand(program);
registerPreflightCommand(program);
registerVerifierCommand(program);
registerDaemonCommand(program);
registerChainCommand(program);
registerStakeCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Commander has already printed its message; its errors (exit 1) are all bad usage, which exits 2 here.
  if (error instanceof CommanderError) process.exit(error.exitCode === 1 ? 2 : error.exitCode);
  const exitCode = error instanceof CliError ? error.exitCode : 1;
  process.stderr.write(`tessera: ${(error as Error).message}\n`);
  process.exit(exitCode);
}
