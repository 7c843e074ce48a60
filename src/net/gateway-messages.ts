// Control messages between the main thread and a gateway thread (postMessage:
// cold paths only; sockets' traffic goes over the rings of gateway-records.ts).

/** An HTTP request a gateway thread forwards whole to the main thread, which owns the routes. */
export interface ProxiedRequest {
  t: 'http';
  thread: number;
  id: number;
  /** Lower case, as uWS reports it. */
  method: string;
  url: string;
  /** The raw query string, without '?'. */
  query: string;
  /** Header names in lower case, in arrival order. */
  headers: Array<[string, string]>;
  ip: string;
  /** True when body chunks follow (httpData), as uWS's onData would deliver them. */
  hasBody: boolean;
}

export type ThreadToCore =
  | ProxiedRequest
  /** A piece of a forwarded request's body; `last` ends it. */
  | { t: 'httpData'; thread: number; id: number; chunk: ArrayBuffer; last: boolean }
  | { t: 'httpAbort'; thread: number; id: number }
  | { t: 'listening'; thread: number; ok: boolean; port: number }
  /** An uncaught exception: the thread is closing its sockets and exiting. */
  | { t: 'died'; thread: number; message: string; stack: string }
  | { t: 'exited'; thread: number; code: number; ringFullDrops: number };

export type CoreToThread =
  /**
   * A piece of an HTTP answer. The first carries the status and headers;
   * `done` ends the response (with `body` as its last bytes), otherwise the
   * body is written and more follows (server-sent events).
   */
  | { t: 'httpRes'; id: number; status?: string; headers?: Array<[string, string]>; body?: string | ArrayBuffer | null; done: boolean; closeConnection?: boolean }
  | { t: 'stopListening' }
  | { t: 'exit' };
