// A TLS-terminating reverse proxy, as in front of a production `nile-reset serve`: HTTPS on
// NILE_RESET_BROWSER_TLS_LISTEN (host:port) with the certificate and key in
// NILE_RESET_BROWSER_TLS_CERT and NILE_RESET_BROWSER_TLS_KEY (a throwaway self-signed pair),
// every request passed on unchanged, Host included, to NILE_RESET_BROWSER_TLS_UPSTREAM
// (http://host:port). Prints "listening on https://host:port" once it accepts connections.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: start the proxy through tests/browser/run.sh`);
  }
  return value;
}

const listen = required('NILE_RESET_BROWSER_TLS_LISTEN');
const upstream = new URL(required('NILE_RESET_BROWSER_TLS_UPSTREAM'));
const options = {
  cert: readFileSync(required('NILE_RESET_BROWSER_TLS_CERT')),
  key: readFileSync(required('NILE_RESET_BROWSER_TLS_KEY')),
};

const server = https.createServer(options, (req, res) => {
  const forwarded = http.request(
    {
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
    },
    (answer) => {
      res.writeHead(answer.statusCode, answer.rawHeaders);
      answer.pipe(res);
    },
  );
  forwarded.on('error', (error) => {
    console.error(`upstream: ${error.message}`);
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'text/plain' });
    }
    res.end('bad gateway');
  });
  req.pipe(forwarded);
});
const at = listen.lastIndexOf(':');
const host = listen.slice(0, at);
const port = Number(listen.slice(at + 1));
server.listen(port, host, () => console.log(`listening on https://${host}:${port}`));
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
