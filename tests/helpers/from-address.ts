import http from 'node:http';
import { expectContract, type ApiResponse } from './contract.js';

/**
 * Like apiClient, but every request leaves from `localAddress` (any of
 * 127.0.0.0/8 on Linux), so one test can act as many distinct clients.
 * Every response is checked against the contract.
 */
export function apiFrom(baseUrl: string, localAddress: string) {
  const agent = new http.Agent({ keepAlive: true, localAddress });
  return async function call(
    method: string,
    path: string,
    options: { json?: unknown; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse> {
    const body = options.json === undefined ? undefined : JSON.stringify(options.json);
    const headers: Record<string, string> = { ...options.headers };
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(baseUrl + path, { method, headers, agent }, resolve);
      req.on('error', reject);
      req.end(body);
    });
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(res.headers)) {
      if (typeof value === 'string') responseHeaders.set(name, value);
      else if (Array.isArray(value)) responseHeaders.set(name, value.join(', '));
    }
    const contentType = responseHeaders.get('content-type');
    const parsed: unknown = contentType?.startsWith('application/json') ? JSON.parse(text) : text === '' ? undefined : text;
    const operationId = expectContract(method, path, res.statusCode ?? 0, text === '' ? null : contentType, parsed);
    return { status: res.statusCode ?? 0, headers: responseHeaders, body: parsed, text, method, path, operationId };
  };
}
