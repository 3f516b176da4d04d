import { flooredPercent, formatDuration, shownWatermark } from './progress-bar.ts';

/** What a row of `backfill list` needs from a listed backfill. */
type ListedBackfill = {
  id: string;
  status: string;
  match: string;
  originalPackageId: string;
  fromCheckpoint: string;
  toCheckpoint: string;
  checkpointHiInclusive: string;
  percent: number;
  checkpointsPerSecond: number | null;
  etaSeconds: number | null;
  rowsInserted: number;
  lastError: string | null;
};

const HEADERS = ['ID', 'STATUS', 'MATCH', 'DONE', 'WATERMARK/TO', 'CP/S', 'ETA', 'ROWS', 'PACKAGE'] as const;
/** Numbers line up on the right. */
const RIGHT = new Set<string>(['DONE', 'CP/S', 'ROWS']);

/** `0x2c8d…4809`: a 64-hex-digit ID would take half the line; --json and status show it whole. */
function shortId(id: string): string {
  return id.length > 13 ? `${id.slice(0, 6)}…${id.slice(-4)}` : id;
}

/** At most `width` characters, the cut marked with `…`. */
function truncate(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

function cells(item: ListedBackfill): string[] {
  return [
    item.id,
    item.status,
    item.match,
    `${flooredPercent(item.percent).toFixed(1)}%`,
    `${shownWatermark(item.fromCheckpoint, item.checkpointHiInclusive)}/${item.toCheckpoint}`,
    item.checkpointsPerSecond === null ? '-' : String(Math.round(item.checkpointsPerSecond)),
    // As on the progress bar: only a running backfill is on its way to an end.
    item.etaSeconds === null || item.status !== 'running' ? '-' : formatDuration(item.etaSeconds),
    String(item.rowsInserted),
    shortId(item.originalPackageId),
  ];
}

/**
 * The `backfill list` table: one row per backfill, columns as wide as their widest cell, and under
 * a row whose backfill has a last error, that error on a line of its own cut to `width` (a column
 * of it would not fit beside a backfill ID in 120 characters).
 */
export function backfillTable(items: ListedBackfill[], width = 120): string[] {
  const rows = items.map(cells);
  const widths = HEADERS.map((header, column) => Math.max(header.length, ...rows.map((row) => row[column].length)));
  const line = (row: readonly string[]) =>
    row
      .map((cell, column) => (RIGHT.has(HEADERS[column]) ? cell.padStart(widths[column]) : cell.padEnd(widths[column])))
      .join('  ')
      .trimEnd();
  const lines = [line(HEADERS)];
  items.forEach((item, index) => {
    lines.push(line(rows[index]));
    if (item.lastError) lines.push(truncate(`  last error: ${item.lastError.replace(/\s+/g, ' ')}`, width));
  });
  return lines;
}
