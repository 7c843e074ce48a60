// A client of the Agones SDK sidecar's local HTTP API (the REST gateway of
// the SDK server, https://agones.dev/site/docs/guides/client-sdks/rest/):
//
//   POST /ready            {}                       the GameServer takes players
//   POST /health           {}                       one health ping
//   POST /shutdown         {}                       the GameServer is done
//   PUT  /metadata/label   {"key":k,"value":v}      label agones.dev/sdk-<k>
//
// Status, not exceptions: every call resolves with ok or the reason it
// failed (HTTP status, refused, timed out). Cold path: a few calls a second.

export const AGONES_DEFAULT_HTTP_PORT = 9358;

/** The sidecar's base URL: agones.sdkUrl, else 127.0.0.1 on $AGONES_SDK_HTTP_PORT (Agones sets it), else 9358. */
export function agonesBaseUrl(sdkUrl: string, env: NodeJS.ProcessEnv = process.env): string {
  if (sdkUrl) return sdkUrl.replace(/\/+$/, '');
  const raw = env.AGONES_SDK_HTTP_PORT;
  const port = raw && /^\d{1,5}$/.test(raw) && Number(raw) > 0 && Number(raw) < 65536 ? Number(raw) : AGONES_DEFAULT_HTTP_PORT;
  return `http://127.0.0.1:${port}`;
}

export type AgonesCall = 'ready' | 'health' | 'shutdown' | 'label';
export const AGONES_CALLS = ['ready', 'health', 'shutdown', 'label'] as const satisfies readonly AgonesCall[];

export type CallResult = { ok: true } | { ok: false; reason: string };

export class AgonesSdk {
  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {}

  ready(): Promise<CallResult> {
    return this.send('POST', '/ready', {});
  }

  health(): Promise<CallResult> {
    return this.send('POST', '/health', {});
  }

  shutdown(): Promise<CallResult> {
    return this.send('POST', '/shutdown', {});
  }

  /** Agones prefixes the key with agones.dev/sdk-; key and value must be valid Kubernetes label text. */
  setLabel(key: string, value: string): Promise<CallResult> {
    return this.send('PUT', '/metadata/label', { key, value });
  }

  private async send(method: 'POST' | 'PUT', path: string, body: object): Promise<CallResult> {
    try {
      const res = await fetch(this.baseUrl + path, {
        method,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined); // drain, so the connection is reused
      return res.ok ? { ok: true } : { ok: false, reason: `HTTP ${res.status}` };
    } catch (err) {
      const e = err as { name?: string; message?: string; cause?: { code?: string } };
      if (e.name === 'TimeoutError' || e.name === 'AbortError') return { ok: false, reason: `timed out after ${this.timeoutMs} ms` };
      return { ok: false, reason: e.cause?.code ?? e.message ?? String(err) };
    }
  }
}
