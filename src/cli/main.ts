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

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  const exitCode = error instanceof CliError ? error.exitCode : 1;
  process.stderr.write(`tessera: ${(error as Error).message}\n`);
  process.exit(exitCode);
}
