#!/usr/bin/env node
/**
 * A small static file server for the browser pages (examples/, dist/), used by the browser test
 * and by `npm run dashboard`. Listens on 127.0.0.1 only and serves files under the repository
 * root with the right MIME types (`.wasm` as `application/wasm`, which streaming compilation
 * needs). Run as a script it sends the cross-origin isolation headers (COOP/COEP) on every
 * response, so that pages get SharedArrayBuffer (multi-worker runtimes need it); `--no-isolate`
 * turns them off. From startServer they are off unless `isolate: true`, and a `?coi` query on a
 * request adds them to that response.
 *
 *   node scripts/serve.mjs [--port N] [--no-isolate] [path]   e.g. node scripts/serve.mjs examples/dashboard/
 */
import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.cjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
};

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/**
 * Starts the server. `root`: the directory served (default: the repository). `port` 0 picks a
 * free one. Resolves to `{ server, url, close() }`; `url` ends with '/'.
 */
export function startServer({ root = repoRoot, port = 0, host = '127.0.0.1', log = false, isolate = false } = {}) {
  const base = resolve(root);
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://localhost');
    let path;
    try {
      path = normalize(join(base, decodeURIComponent(u.pathname)));
    } catch {
      res.writeHead(400).end('bad request');
      return;
    }
    if (path !== base && !path.startsWith(base + sep)) {
      res.writeHead(403).end('forbidden');
      return;
    }
    let st;
    try {
      st = statSync(path);
      if (st.isDirectory()) {
        if (!u.pathname.endsWith('/')) {
          res.writeHead(301, { Location: u.pathname + '/' + u.search }).end();
          return;
        }
        path = join(path, 'index.html');
        st = statSync(path);
      }
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`not found: ${u.pathname}`);
      if (log) console.log(`404 ${u.pathname}`);
      return;
    }
    const headers = {
      'Content-Type': MIME[extname(path).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': st.size,
      'Cache-Control': 'no-cache',
    };
    if (isolate || u.searchParams.has('coi')) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
    }
    res.writeHead(200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(path).pipe(res);
    if (log) console.log(`200 ${u.pathname} (${headers['Content-Type']})`);
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      const a = server.address();
      ok({
        server,
        url: `http://${host}:${a.port}/`,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}

// Run as a script: serve the repository and print the page's URL.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values, positionals } = parseArgs({
    options: {
      port: { type: 'string', default: '8080' },
      verbose: { type: 'boolean', short: 'v', default: false },
      'no-isolate': { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
  const isolate = !values['no-isolate'];
  const page = (positionals[0] ?? '').replace(/^\.?\//, '');
  const port = Number(values.port);
  startServer({ port, log: values.verbose, isolate })
    .catch((e) => {
      if (e.code === 'EADDRINUSE') return startServer({ port: 0, log: values.verbose, isolate }); // 8080 taken: any free port
      throw e;
    })
    .then(({ url }) => {
      console.log(`serving ${repoRoot} on ${url} (127.0.0.1 only${isolate ? '; cross-origin isolated' : ''}; Ctrl-C stops)`);
      console.log(`open ${url}${page}`);
    });
}
