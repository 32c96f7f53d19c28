// The emails `nile-reset send` delivered through its file transport: one RFC 5322 message per
// .eml file. Just enough MIME to read them: headers, multipart/alternative, and the 7bit,
// quoted-printable and base64 transfer encodings.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { MAIL_DIR } from './env.mjs';

function splitHead(raw) {
  const at = raw.search(/\r?\n\r?\n/);
  const head = at < 0 ? raw : raw.slice(0, at);
  const body = at < 0 ? '' : raw.slice(at).replace(/^\r?\n\r?\n/, '');
  const headers = new Map();
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) {
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
  }
  return { headers, body };
}

function decode(body, encoding) {
  switch ((encoding ?? '7bit').toLowerCase()) {
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    case 'quoted-printable':
      return Buffer.from(
        body
          .replace(/=\r?\n/g, '')
          .replace(/=([0-9A-Fa-f]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16))),
        'latin1',
      ).toString('utf8');
    default:
      return body;
  }
}

/// The text/plain content of a message (the first such part of a multipart one).
function plainText({ headers, body }) {
  const type = headers.get('content-type') ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type);
  if (/^multipart\//i.test(type) && boundary) {
    for (const part of body.split(`--${boundary[1]}`).slice(1)) {
      if (part.startsWith('--')) {
        break;
      }
      const text = plainText(splitHead(part.replace(/^\r?\n/, '')));
      if (text !== undefined) {
        return text;
      }
    }
    return undefined;
  }
  return /^text\/plain/i.test(type) ? decode(body, headers.get('content-transfer-encoding')) : undefined;
}

/// Parses one message: `{file, to, subject, text, link}`, link being the first URL with a
/// token in it.
export function parse(file, raw) {
  const message = splitHead(raw);
  const text = plainText(message) ?? '';
  const link = /https?:\/\/\S*[?&]token=\S+/.exec(text)?.[0];
  return {
    file,
    to: message.headers.get('to') ?? '',
    subject: message.headers.get('subject') ?? '',
    text,
    link,
  };
}

/// Waits for the email to `recipient` that `nile-reset send` delivers; fails after `timeoutMs`.
/// Each message is taken once: a later wait for the same recipient gets the next one.
const taken = new Set();
export async function nextEmailTo(recipient, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const files = (await readdir(MAIL_DIR).catch(() => [])).filter((f) => f.endsWith('.eml')).sort();
    for (const file of files) {
      if (taken.has(file)) {
        continue;
      }
      const message = parse(file, await readFile(join(MAIL_DIR, file), 'utf8'));
      if (message.to.includes(`<${recipient}>`) || message.to === recipient) {
        taken.add(file);
        return message;
      }
    }
    await sleep(200);
  }
  throw new Error(`no email to ${recipient} in ${MAIL_DIR} within ${timeoutMs} ms`);
}

/// How many messages to `recipient` are in the folder now.
export async function emailsDeliveredTo(recipient) {
  const files = (await readdir(MAIL_DIR).catch(() => [])).filter((f) => f.endsWith('.eml'));
  let n = 0;
  for (const file of files) {
    const message = parse(file, await readFile(join(MAIL_DIR, file), 'utf8'));
    if (message.to.includes(`<${recipient}>`) || message.to === recipient) {
      n += 1;
    }
  }
  return n;
}
