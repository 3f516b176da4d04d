/** What a progress line needs from a backfill view. */
type ProgressView = {
  id: string;
  status: string;
  fromCheckpoint: string;
  toCheckpoint: string;
  watermark: { checkpointHiInclusive: string };
  progress: { percent: number; checkpointsPerSecond: number | null; etaSeconds: number | null };
  rowsInserted: number;
};

/** `42s`, `1m05s`, `2h07m`: rounded to the second first, so 119.7 s is `2m00s`. */
export function formatDuration(seconds: number): string {
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole}s`;
  if (whole < 3600) return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
  return `${Math.floor(whole / 3600)}h${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')}m`;
}

/** A percent to one decimal, rounded down: 99.98% is not shown as 100.0% while the walk still runs. */
export function flooredPercent(percent: number): number {
  return Math.floor(Math.max(0, Math.min(100, percent)) * 10 + 1e-9) / 10;
}

/**
 * A watermark as the CLI shows it: `-` until the first checkpoint of the range is done. The stored
 * watermark is then the checkpoint before the range, -1 for a range from 0, which reads as a position.
 */
export function shownWatermark(fromCheckpoint: string, checkpointHiInclusive: string): string {
  return BigInt(checkpointHiInclusive) < BigInt(fromCheckpoint) ? '-' : checkpointHiInclusive;
}

/** `[██████░░░░]  61.2%  cp 12345/20000  1234 cp/s  ETA 6s  rows 4567  running`; `cp -/20000` before the watermark moves. */
export function progressLine(view: ProgressView, width = 30): string {
  const percent = flooredPercent(view.progress.percent);
  const filled = Math.floor((percent / 100) * width);
  const bar = `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]`;
  const rate = view.progress.checkpointsPerSecond === null ? '' : `  ${Math.round(view.progress.checkpointsPerSecond)} cp/s`;
  const eta = view.progress.etaSeconds === null || view.status !== 'running' ? '' : `  ETA ${formatDuration(view.progress.etaSeconds)}`;
  return `${bar} ${percent.toFixed(1).padStart(5)}%  cp ${shownWatermark(view.fromCheckpoint, view.watermark.checkpointHiInclusive)}/${view.toCheckpoint}${rate}${eta}  rows ${view.rowsInserted}  ${view.status}`;
}
