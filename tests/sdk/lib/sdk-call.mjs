// One SDK call in a process of its own, so that it starts from a fresh SDK: no CSRF cookie,
// nothing left by earlier calls. Input: a JSON object in argv[2]
// ({op, cookie, args}); output: a last line `RESULT {"status", "text"}` or `ERROR <message>`.
import { nile } from './env.mjs';

const { op, cookie, args } = JSON.parse(process.argv[2]);
const sdk = nile();
try {
  const call = (n) => n.auth[op](args);
  const response = cookie
    ? await sdk.withContext({ headers: { cookie } }, call)
    : await call(sdk);
  const text = await response.text();
  console.log(`RESULT ${JSON.stringify({ status: response.status, text })}`);
} catch (error) {
  console.log(`ERROR ${error.message}`);
}
process.exit(0);
