// Runs lib/sdk-call.mjs in a new Node process and returns its answer.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const script = fileURLToPath(new URL('./sdk-call.mjs', import.meta.url));

/// `{status, text}` of the call, or `{error}` when the SDK threw.
export async function inFreshProcess(op, args, cookie = undefined) {
  const { stdout } = await run(process.execPath, [script, JSON.stringify({ op, args, cookie })], {
    env: process.env,
    timeout: 60_000,
  });
  const last = stdout.trim().split('\n').pop();
  if (last.startsWith('RESULT ')) {
    return JSON.parse(last.slice('RESULT '.length));
  }
  if (last.startsWith('ERROR ')) {
    return { error: last.slice('ERROR '.length) };
  }
  throw new Error(`unexpected output from sdk-call.mjs: ${stdout}`);
}
