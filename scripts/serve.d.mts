/** Types of scripts/serve.mjs (the static server of the browser test and `npm run dashboard`). */
import type { Server } from 'node:http';

export declare const MIME: Record<string, string>;

export interface StaticServer {
  server: Server;
  /** `http://127.0.0.1:<port>/` */
  url: string;
  close(): Promise<void>;
}

/** Serves `root` (default: the repository) on `host` (default 127.0.0.1); port 0 picks a free one. `isolate`: COOP/COEP on every response. */
export declare function startServer(options?: { root?: string; port?: number; host?: string; log?: boolean; isolate?: boolean }): Promise<StaticServer>;
