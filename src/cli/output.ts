export type OutputFormat = 'json' | 'table';

/** Rows of flat values as aligned columns; nested values print as JSON. */
export function renderTable(rows: Record<string, unknown>[], columns: string[]): string {
  const cells = rows.map((row) => columns.map((column) => cellText(row[column])));
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((cell) => cell[i]!.length)));
  const line = (values: string[]): string => values.map((value, i) => value.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n') + '\n';
}

/** One object as `key  value` lines. */
export function renderRecord(record: Record<string, unknown>): string {
  const flat = flatten(record);
  const width = Math.max(...Object.keys(flat).map((k) => k.length));
  return Object.entries(flat).map(([key, value]) => `${key.padEnd(width)}  ${cellText(value)}`).join('\n') + '\n';
}

function flatten(value: Record<string, unknown>, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    const name = prefix === '' ? key : `${prefix}.${key}`;
    if (inner !== null && typeof inner === 'object' && !Array.isArray(inner)) Object.assign(out, flatten(inner as Record<string, unknown>, name));
    else out[name] = inner;
  }
  return out;
}

function cellText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(',');
  return typeof value === 'string' ? value : JSON.stringify(value);
}
