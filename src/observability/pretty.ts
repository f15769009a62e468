import type { DestinationStream } from 'pino';

/** pino's numeric levels, as the words a reader scans for; padded so messages line up. */
const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };

/** Fields every line carries, shown elsewhere in the line or not worth repeating. */
const OMITTED = new Set(['level', 'time', 'msg', 'service', 'pid', 'hostname', 'err']);

/** A value as it reads after `key=`: bare when it has no spaces or quotes, JSON otherwise. */
function valueText(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (value === null || typeof value !== 'object') return String(value);
  return JSON.stringify(value);
}

function clockTime(epochMs: number): string {
  const t = new Date(epochMs);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(t.getHours())}:${two(t.getMinutes())}:${two(t.getSeconds())}.${String(t.getMilliseconds()).padStart(3, '0')}`;
}

/**
 * One pino JSON line as a readable one: `13:02:11.123 INFO  message key=value …`, local time,
 * and an error's stack indented below it. A line that is not JSON passes through unchanged.
 */
export function formatPrettyLine(jsonLine: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(jsonLine) as Record<string, unknown>;
  } catch {
    return jsonLine.endsWith('\n') ? jsonLine : `${jsonLine}\n`;
  }
  const level = LEVEL_NAMES[entry.level as number] ?? String(entry.level).padEnd(5);
  const time = typeof entry.time === 'number' ? clockTime(entry.time) : '';
  let line = `${time} ${level} ${typeof entry.msg === 'string' ? entry.msg : ''}`;
  for (const [key, value] of Object.entries(entry)) {
    if (!OMITTED.has(key) && value !== undefined) line += ` ${key}=${valueText(value)}`;
  }
  const err = entry.err;
  if (typeof err === 'string') line += ` err=${valueText(err)}`;
  else if (err !== null && typeof err === 'object') {
    const { message, stack } = err as { message?: unknown; stack?: unknown };
    line += ` err=${valueText(message ?? err)}`;
    if (typeof stack === 'string') line += `\n    ${stack.split('\n').slice(1).map((s) => s.trim()).join('\n    ')}`;
  }
  return `${line.trimEnd()}\n`;
}

/**
 * A pino destination that writes readable lines to `target` (stdout by default). pino
 * serialises (and redacts) first, so this sees exactly what a JSON log would hold.
 */
export function prettyDestination(target: { write(text: string): unknown } = process.stdout): DestinationStream {
  return { write: (line: string) => void target.write(formatPrettyLine(line)) };
}
