import { Command } from 'commander';
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
import { registerGrantCommand } from './commands/grant.ts';
import { registerProfileCommand } from './commands/profile.ts';
import { endQuietlyOnClosedPipe, errorReport } from './exit.ts';

const program = new Command()
  .name('tessera')
  .description('Run large language models across machines owned by independent operators.')
  // errors are printed once, as one line, by the handler below
  .configureOutput({ outputError: () => {} })
  .exitOverride();

const debug =
  process.env.TESSERA_DEBUG !== undefined && process.env.TESSERA_DEBUG !== '' && process.env.TESSERA_DEBUG !== '0';

function fail(error: unknown): never {
  const { text, exitCode } = errorReport(error, debug);
  if (text !== '') process.stderr.write(text);
  process.exit(exitCode);
}

endQuietlyOnClosedPipe();
// an error thrown outside the command's own promise (a timer, an event handler) is reported the same way
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

// Each commands/NAME.ts holds only the command's flags and help, and imports commands/NAME-action.ts
// when the command runs: help then loads none of grpc-js, SQLite, the curves or the model code
// (test/cli/dist.test.ts checks).
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
registerGrantCommand(program);
registerProfileCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  fail(error);
}
