import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staticFiles } from './static-files.js';

describe('staticFiles (the storefront at /)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'static-files-'));
  const secret = mkdtempSync(join(tmpdir(), 'static-secret-'));
  let server: Server;
  let base: string;

  beforeAll(async () => {
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), `<!doctype html><title>t</title>${'<p>x</p>'.repeat(100)}`);
    writeFileSync(join(dir, 'assets', 'main-ABC123.js'), `console.log(${JSON.stringify('y'.repeat(2000))});`);
    writeFileSync(join(dir, '.built'), 'stamp');
    writeFileSync(join(secret, 'secret.txt'), 'do not serve');
    const serve = staticFiles(dir);
    server = createServer((req, res) => {
      void serve(req, res).then((served) => {
        if (!served) {
          res.writeHead(404);
          res.end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
    rmSync(secret, { recursive: true, force: true });
  });

  it('serves index.html at / and for client-side routes, never cached without revalidation', async () => {
    for (const path of ['/', '/orders/42', '/sell']) {
      const r = await fetch(base + path);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(r.headers.get('cache-control')).toBe('no-cache');
      expect(await r.text()).toContain('<title>t</title>');
    }
  });

  it('serves hashed assets as immutable, compressed as the client accepts', async () => {
    const br = await fetch(`${base}/assets/main-ABC123.js`, { headers: { 'accept-encoding': 'gzip, br' } });
    expect(br.headers.get('content-encoding')).toBe('br');
    expect(br.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(br.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(br.headers.get('vary')).toBe('Accept-Encoding');
    const raw = await new Promise<Buffer>((resolve, reject) => {
      // fetch decodes by itself; a plain request shows the gzip bytes as sent.
      import('node:http')
        .then(({ get }) =>
          get(`${base}/assets/main-ABC123.js`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks)));
          }).on('error', reject),
        )
        .catch(reject);
    });
    expect(gunzipSync(raw).toString()).toContain('console.log');
    const plain = await fetch(`${base}/assets/main-ABC123.js`, { headers: { 'accept-encoding': 'identity' } });
    expect(plain.headers.get('content-encoding')).toBeNull();
  });

  it('answers nothing outside the files it read: missing assets, dotfiles, traversal, other methods', async () => {
    expect((await fetch(`${base}/assets/missing.js`)).status).toBe(404);
    expect((await fetch(`${base}/.built`)).status).toBe(404);
    expect((await fetch(`${base}/missing.css`)).status).toBe(404);
    for (const path of ['/..%2f..%2fetc%2fpasswd', '/assets/..%2f..%2fsecret.txt', `/%2e%2e/${secret.split('/').pop()}/secret.txt`, '/%E0%A4%A']) {
      const r = await fetch(base + path);
      expect(await r.text()).not.toContain('do not serve');
    }
    expect((await fetch(`${base}/`, { method: 'POST' })).status).toBe(404);
    const head = await fetch(`${base}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });
});
