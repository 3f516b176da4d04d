import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../src/common/logger.ts';

type LogLine = { msg: string; [field: string]: unknown };

/** A pino logger (level info) whose lines, parsed, the test reads as they are written. */
export function captureLogs(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}
