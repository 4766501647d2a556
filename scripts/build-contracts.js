// Compiles src/escrow/contracts/TesseraEscrow.sol with the pinned solc-js into the committed artifact
// TesseraEscrow.json (abi + bytecode). Run with `npm run contracts`; `--stdout` prints the artifact
// instead of writing it, so a test can prove the committed file matches its source.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import solc from 'solc';

const root = new URL('..', import.meta.url).pathname;
const dir = join(root, 'src', 'escrow', 'contracts');
const SOURCE = 'TesseraEscrow.sol';
const CONTRACT = 'TesseraEscrow';

// shanghai (PUSH0, no transient storage) runs on every current EVM chain, anvil included.
const settings = {
  evmVersion: 'shanghai',
  optimizer: { enabled: true, runs: 200 },
  outputSelection: { [SOURCE]: { [CONTRACT]: ['abi', 'evm.bytecode.object'] } },
};

const input = {
  language: 'Solidity',
  sources: { [SOURCE]: { content: readFileSync(join(dir, SOURCE), 'utf8') } },
  settings,
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const messages = output.errors ?? [];
for (const m of messages) process.stderr.write(m.formattedMessage);
if (messages.some((m) => m.severity === 'error')) process.exit(1);

const compiled = output.contracts[SOURCE][CONTRACT];
const artifact = {
  contractName: CONTRACT,
  compiler: `solc ${solc.version()}`,
  settings: { evmVersion: settings.evmVersion, optimizer: settings.optimizer },
  abi: compiled.abi,
  bytecode: `0x${compiled.evm.bytecode.object}`,
};
const text = `${JSON.stringify(artifact, null, 2)}\n`;
if (process.argv.includes('--stdout')) process.stdout.write(text);
else {
  const path = join(dir, `${CONTRACT}.json`);
  writeFileSync(path, text);
  console.log(`compiled ${relative(root, path)} with solc ${solc.version()}`);
}
