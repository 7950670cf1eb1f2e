/**
 * Logs go to stderr only: under stdio, stdout is the JSON-RPC channel.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LEVELS)[number];
export const isLogLevel = (v: string): v is LogLevel => (LEVELS as readonly string[]).includes(v);

export function createLogger(level: LogLevel): Logger {
  return pino(
    {
      level,
      base: { name: 'crm-mcp' },
      // Belt and braces: secrets are never passed to the logger, but if a header object slips in
      // these paths are still masked.
      redact: {
        paths: [
          'headers.authorization',
          'headers["x-api-token"]',
          '*.headers.authorization',
          '*.headers["x-api-token"]',
          'token',
          'apiToken',
          'api_token',
        ],
        censor: '[redacted]',
      },
    },
    pino.destination({ dest: 2, sync: true }),
  );
}
