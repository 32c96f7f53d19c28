// The README's resetPassword() snippet ("Using Nile's SDK"), run as printed: only its apiUrl
// and email are pointed at this test's shim and user.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, test } from 'node:test';

import { addUser, API_KEY, API_URL, closeDatabase, DATABASE_URL, passwordIs } from '../lib/env.mjs';

after(closeDatabase);

const sdkDir = fileURLToPath(new URL('..', import.meta.url));
const readme = fileURLToPath(new URL('../../../README.md', import.meta.url));
const MARKER = '<!-- tests/sdk/test/readme.test.mjs runs this snippet as printed -->';

async function snippet() {
  const text = await readFile(readme, 'utf8');
  const at = text.indexOf(MARKER);
  assert.ok(at >= 0, 'the README marks its snippet');
  const block = /```js\n([\s\S]*?)```/.exec(text.slice(at));
  assert.ok(block, 'a js block follows the marker');
  return block[1];
}

test("the README's resetPassword() snippet works as printed", async () => {
  const email = 'readme@example.com';
  await addUser(email);
  const printed = await snippet();
  const code = printed
    .replace('http://127.0.0.1:8080/v2/databases/mydb', API_URL)
    .replace('jane@example.com', email);
  assert.notEqual(code, printed);
  // Run from tests/sdk, so that the import finds the locked SDK.
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '--eval', `${code}\nconsole.log('STATUS ' + response.status);`],
    { cwd: sdkDir, env: {
      ...process.env,
      NILE_RESET_API_KEY: API_KEY,
      NILEDB_USER: 'postgres',
      NILEDB_PASSWORD: 'unused',
      NILEDB_POSTGRES_URL: DATABASE_URL,
    }, timeout: 60_000 },
  );
  assert.match(stdout, /^STATUS 204$/m);
  assert.ok(await passwordIs(email, 'a new password'));
});
