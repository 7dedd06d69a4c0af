import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, relative, sep } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json', '.txt']);

interface StaticFile {
  contentType: string;
  identity: Buffer;
  gzip?: Buffer;
  brotli?: Buffer;
  cacheControl: string;
}

/**
 * The storefront's built files, read once into memory (the bundle is small): `GET /<path>` answers
 * only paths that are files of the directory when it was read (no path from a request ever touches
 * the file system, so `..` leads nowhere), compressed with brotli or gzip as the client accepts
 * (precompressed `.br`/`.gz` siblings when the build wrote them). Names under `assets/` carry a
 * content hash and are immutable; every other GET or HEAD of a path without an extension (and no
 * segment starting with a dot) is a client-side route and gets index.html, which is never cached
 * without revalidation.
 */
export function staticFiles(dir: string): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const files = new Map<string, StaticFile>();
  const walk = (at: string) => {
    for (const name of readdirSync(at)) {
      if (name.startsWith('.')) continue;
      const full = join(at, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (!name.endsWith('.gz') && !name.endsWith('.br')) {
        const path = '/' + relative(dir, full).split(sep).join('/');
        const ext = extname(name);
        const identity = readFileSync(full);
        const sibling = (suffix: string, compress: (b: Buffer) => Buffer) => {
          try {
            return readFileSync(full + suffix);
          } catch {
            return compress(identity);
          }
        };
        const compressible = COMPRESSIBLE.has(ext) && identity.length > 256;
        files.set(path, {
          contentType: CONTENT_TYPES[ext] ?? 'application/octet-stream',
          identity,
          ...(compressible && { gzip: sibling('.gz', (b) => gzipSync(b, { level: 9 })), brotli: sibling('.br', (b) => brotliCompressSync(b)) }),
          cacheControl: path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
        });
      }
    }
  };
  walk(dir);
  const index = files.get('/index.html');
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return Promise.resolve(false);
    let path: string;
    try {
      path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    } catch {
      return Promise.resolve(false);
    }
    const file = files.get(path) ?? (path === '/' || (!extname(path) && !path.startsWith('/assets/') && !path.includes('/.')) ? index : undefined);
    if (!file) return Promise.resolve(false);
    const accepts = String(req.headers['accept-encoding'] ?? '');
    const [encoding, body] = file.brotli && /\bbr\b/.test(accepts) ? ['br', file.brotli] : file.gzip && /\bgzip\b/.test(accepts) ? ['gzip', file.gzip] : [undefined, file.identity];
    res.writeHead(200, {
      'content-type': file.contentType,
      'content-length': body.length,
      'cache-control': file.cacheControl,
      'x-content-type-options': 'nosniff',
      ...(file.gzip && { vary: 'Accept-Encoding' }),
      ...(encoding && { 'content-encoding': encoding }),
      ...(file === index && { 'content-security-policy': "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; base-uri 'none'; frame-ancestors 'none'" }),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return Promise.resolve(true);
  };
}
