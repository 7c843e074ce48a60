// The one module that touches uWebSockets.js. Everything else imports its
// types and the loaded module from here.
//
// @trufflesuite/uws-js-unofficial ships native binaries and, when the one for
// this platform/ABI fails to load (or UWS_USE_FALLBACK is set), silently
// substitutes an emulation on top of `ws` that is an order of magnitude
// slower. A game server that quietly runs 10x slower is worse than one that
// does not start, so we load the binary ourselves and refuse the emulation
// unless net.allowSlowFallback is set.

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as Uws from '@trufflesuite/uws-js-unofficial';

export type {
  TemplatedApp,
  WebSocket,
  WebSocketBehavior,
  HttpRequest,
  HttpResponse,
  us_listen_socket,
  us_socket_context_t,
  RecognizedString,
} from '@trufflesuite/uws-js-unofficial';

export type UwsModule = typeof Uws;

export interface UwsLoad {
  uws: UwsModule;
  /** True when the native binary is in use. */
  native: boolean;
  /** The binary that was loaded, or why the emulation is in use. */
  detail: string;
}

export class UwsLoadError extends Error {
  readonly code = 'MMO_ERR_UWS_NATIVE';
  constructor(message: string) {
    super(message);
    this.name = 'UwsLoadError';
  }
}

const require = createRequire(import.meta.url);
const PACKAGE = '@trufflesuite/uws-js-unofficial';

export interface LoadUwsOptions {
  allowSlowFallback: boolean;
  /** Overrides the binary path (tests exercise the failure branch with it). */
  binaryPath?: string;
  env?: NodeJS.ProcessEnv;
}

export function expectedBinaryPath(): string {
  const pkgDir = dirname(require.resolve(`${PACKAGE}/package.json`));
  return join(pkgDir, 'binaries', `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
}

export function loadUws(opts: LoadUwsOptions): UwsLoad {
  const env = opts.env ?? process.env;
  const binary = opts.binaryPath ?? expectedBinaryPath();
  let reason: string;
  if (/^(1|true)$/i.test(env.UWS_USE_FALLBACK ?? '')) {
    reason = 'the UWS_USE_FALLBACK environment variable asks for the emulation';
  } else {
    try {
      return { uws: require(binary) as UwsModule, native: true, detail: binary };
    } catch (err) {
      reason = `the native binary ${binary} did not load: ${(err as Error).message.split('\n')[0]}`;
    }
  }
  if (!opts.allowSlowFallback) {
    throw new UwsLoadError(
      `refusing to start on the slow uWebSockets.js emulation: ${reason}. ` +
        `Native binaries exist for Node.js ABI 93/108/115 on linux and darwin (x64, arm64); this is ` +
        `${process.platform}-${process.arch} ABI ${process.versions.modules}. ` +
        `To run anyway (development only), set net.allowSlowFallback: true.`,
    );
  }
  const pkgDir = dirname(require.resolve(`${PACKAGE}/package.json`));
  return { uws: require(join(pkgDir, 'dist', 'index.js')) as UwsModule, native: false, detail: reason };
}

/** uWS hands addresses as ArrayBuffer text; this is the string form (cold path). */
export function addressText(buf: ArrayBuffer): string {
  return Buffer.from(buf).toString('latin1');
}
