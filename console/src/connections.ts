import { ApiError, isAbort, type Connection, type ConnectionFilter } from './api.js';
import { disconnectForm, sendForm } from './actions.js';
import { REFRESH_MS, type ConsoleContext, type View } from './context.js';
import { h, setText } from './dom.js';
import { formatAgo, formatClock, formatSince, plural } from './format.js';
import { clearOutcome, showOutcome } from './outcome.js';
import { Poller } from './poller.js';

const FILTERS = [
  ['gatewayId', 'Gateway'],
  ['tenantId', 'Tenant'],
  ['userId', 'User'],
  ['topic', 'Topic'],
] as const;
const PAGE_SIZES = [10, 25, 50, 100, 250, 500, 1000];
const DEFAULT_PAGE_SIZE = 50;
/** Topics listed in a row before "+N more"; the cell's title has them all. */
const TOPICS_SHOWN = 3;

const COLUMNS = ['ID', 'Gateway', 'Tenant', 'User', 'Source IP', 'User agent', 'Connected for', 'Last active', 'Topics'] as const;

interface Row {
  tr: HTMLTableRowElement;
  cells: HTMLTableCellElement[];
}

export function connectionHref(id: string): string {
  return `#/connections/${encodeURIComponent(id)}`;
}

/**
 * The live table. Only one page (at most 1000 rows) is ever in the DOM: the API pages with
 * opaque tokens, so 100k connections cost the page what 50 do. Rows are keyed by id and
 * updated in place, so a refresh keeps focus and selection where the operator left them.
 */
export function connectionsView(ctx: ConsoleContext, query: URLSearchParams): View {
  const filter = filterOf(query);
  const requestedSize = Number(query.get('pageSize'));
  let pageSize = PAGE_SIZES.includes(requestedSize) ? requestedSize : DEFAULT_PAGE_SIZE;
  const pages = new PageTokens();
  const filters = filterForm(filter, pageSize, () => clearFilters());
  const toolbar = refreshToolbar();
  const region = h('div', { class: 'outcome' });
  const rows = new ConnectionRows();
  const pager = pagerControls();
  const element = h(
    'section',
    { class: 'view', 'aria-labelledby': 'connections-title' },
    h('h1', { id: 'connections-title', tabindex: -1 }, 'Connections'),
    filters.form,
    toolbar.element,
    region,
    h('div', { class: 'table-wrap' }, rows.table),
    rows.empty,
    pager.element,
  );

  const load = async (signal: AbortSignal): Promise<void> => {
    try {
      const page = await ctx.api.listConnections(filter, pageSize, pages.current, signal);
      if (signal.aborted) return;
      pages.nextToken = page.nextPageToken;
      const now = Date.now();
      rows.render(page.connections, now);
      clearOutcome(region);
      const more = pages.nextToken !== '' ? '; more on the next pages' : '';
      setText(toolbar.status, `${plural(page.connections.length, 'connection')} on page ${pages.index + 1}${more} · updated ${formatClock(now)}`);
    } catch (error) {
      if (isAbort(error)) return;
      showOutcome(region, { error });
      setText(toolbar.status, `Update failed at ${formatClock(Date.now())}`);
    }
    pager.show(pages);
  };
  const poller = new Poller(load, REFRESH_MS);

  const restart = (): void => {
    pages.reset();
    writeQuery(filter, pageSize);
    poller.trigger();
  };
  const clearFilters = (): void => {
    for (const input of filters.inputs.values()) input.value = '';
    for (const [name] of FILTERS) delete filter[name];
    restart();
  };
  filters.form.addEventListener('submit', (event) => {
    event.preventDefault();
    for (const [name] of FILTERS) {
      const value = filters.inputs.get(name)?.value.trim() ?? '';
      if (value) filter[name] = value;
      else delete filter[name];
    }
    pageSize = Number(filters.sizeSelect.value);
    restart();
  });
  toolbar.autoRefresh.addEventListener('change', () => poller.setPaused(!toolbar.autoRefresh.checked));
  toolbar.refreshButton.addEventListener('click', () => poller.trigger());
  pager.previous.addEventListener('click', () => {
    if (pages.back()) poller.trigger();
  });
  pager.next.addEventListener('click', () => {
    if (pages.forward()) poller.trigger();
  });

  poller.trigger();
  return { title: 'Connections', element, dispose: () => poller.stop() };
}

function filterOf(query: URLSearchParams): ConnectionFilter {
  const filter: ConnectionFilter = {};
  for (const [name] of FILTERS) {
    const value = query.get(name);
    if (value) filter[name] = value;
  }
  return filter;
}

/** The filter's place in the link, for reloads and sharing. */
function writeQuery(filter: ConnectionFilter, pageSize: number): void {
  const params = new URLSearchParams();
  for (const [name] of FILTERS) if (filter[name]) params.set(name, filter[name]);
  if (pageSize !== DEFAULT_PAGE_SIZE) params.set('pageSize', String(pageSize));
  const suffix = params.toString();
  // replaceState: the filter is in the link for reloads and sharing, without a hashchange re-render.
  history.replaceState(null, '', `#/connections${suffix ? `?${suffix}` : ''}`);
}

/** Which page is shown: the API's opaque token of each page visited so far ('' is the first page). */
class PageTokens {
  private tokens: string[] = [''];
  index = 0;
  nextToken = '';

  get current(): string {
    return this.tokens[this.index] ?? '';
  }

  reset(): void {
    this.tokens = [''];
    this.index = 0;
    this.nextToken = '';
  }

  /** To the previous page; false on the first. */
  back(): boolean {
    if (this.index === 0) return false;
    this.index -= 1;
    this.tokens = this.tokens.slice(0, this.index + 1);
    return true;
  }

  /** To the next page; false when there is none. */
  forward(): boolean {
    if (this.nextToken === '') return false;
    this.tokens = [...this.tokens.slice(0, this.index + 1), this.nextToken];
    this.index += 1;
    return true;
  }
}

interface FilterForm {
  form: HTMLFormElement;
  inputs: Map<string, HTMLInputElement>;
  sizeSelect: HTMLSelectElement;
}

function filterForm(filter: ConnectionFilter, pageSize: number, onClear: () => void): FilterForm {
  const inputs = new Map<string, HTMLInputElement>();
  const filterFields = FILTERS.map(([name, label]) => {
    const id = `filter-${name}`;
    const input = h('input', { id, name, type: 'text', value: filter[name] ?? '', autocomplete: 'off', spellcheck: false, 'data-testid': id });
    inputs.set(name, input);
    return h('div', { class: 'field' }, h('label', { for: id }, label), input);
  });
  const sizeSelect = h('select', { id: 'filter-pageSize', 'data-testid': 'filter-pageSize' }, ...PAGE_SIZES.map((n) => h('option', { value: n, selected: n === pageSize }, String(n))));
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filter connections' },
    ...filterFields,
    h('div', { class: 'field' }, h('label', { for: 'filter-pageSize' }, 'Per page'), sizeSelect),
    h('div', { class: 'button-row' }, h('button', { type: 'submit', class: 'primary', 'data-testid': 'filter-apply' }, 'Apply'), h('button', { type: 'button', class: 'secondary', onclick: () => onClear() }, 'Clear')),
  );
  return { form, inputs, sizeSelect };
}

function refreshToolbar(): { element: HTMLDivElement; autoRefresh: HTMLInputElement; refreshButton: HTMLButtonElement; status: HTMLParagraphElement } {
  const autoRefresh = h('input', { type: 'checkbox', id: 'auto-refresh', checked: true, 'data-testid': 'auto-refresh' });
  const refreshButton = h('button', { type: 'button', class: 'secondary', 'data-testid': 'refresh' }, 'Refresh now');
  const status = h('p', { class: 'status', 'data-testid': 'connections-status' }, 'Loading…');
  const element = h('div', { class: 'toolbar' }, h('span', { class: 'checkbox' }, autoRefresh, h('label', { for: 'auto-refresh' }, 'Auto-refresh')), refreshButton, status);
  return { element, autoRefresh, refreshButton, status };
}

function pagerControls(): { element: HTMLElement; previous: HTMLButtonElement; next: HTMLButtonElement; show(pages: PageTokens): void } {
  const previous = h('button', { type: 'button', class: 'secondary', disabled: true, 'data-testid': 'page-previous' }, '← Previous');
  const next = h('button', { type: 'button', class: 'secondary', disabled: true, 'data-testid': 'page-next' }, 'Next →');
  const pageLabel = h('span', { class: 'page-label', 'aria-live': 'polite' }, 'Page 1');
  const element = h('nav', { class: 'pager', 'aria-label': 'Pages of connections' }, previous, pageLabel, next);
  const show = (pages: PageTokens): void => {
    previous.disabled = pages.index === 0;
    next.disabled = pages.nextToken === '';
    setText(pageLabel, `Page ${pages.index + 1}`);
  };
  return { element, previous, next, show };
}

/** The table and its rows, keyed by connection id and updated in place. */
class ConnectionRows {
  private readonly rows = new Map<string, Row>();
  private readonly tbody = h('tbody', { 'data-testid': 'connections-body' });
  readonly table = h(
    'table',
    { class: 'connections', 'data-testid': 'connections-table' },
    h('caption', { class: 'visually-hidden' }, 'Live connections, one page'),
    h('thead', {}, h('tr', {}, ...COLUMNS.map((c) => h('th', { scope: 'col' }, c)))),
    this.tbody,
  );
  readonly empty = h('p', { class: 'empty', hidden: true, 'data-testid': 'connections-empty' }, 'No connections match.');

  render(connections: Connection[], now: number): void {
    const seen = new Set<string>();
    connections.forEach((connection, index) => {
      seen.add(connection.id);
      let row = this.rows.get(connection.id);
      if (row === undefined) {
        row = newRow(connection.id);
        this.rows.set(connection.id, row);
      }
      updateRow(row, connection, now);
      if (this.tbody.children[index] !== row.tr) this.tbody.insertBefore(row.tr, this.tbody.children[index] ?? null);
    });
    for (const [id, row] of this.rows) {
      if (!seen.has(id)) {
        row.tr.remove();
        this.rows.delete(id);
      }
    }
    this.empty.hidden = connections.length > 0;
  }
}

function newRow(id: string): Row {
  const cells = COLUMNS.map((label) => h('td', { 'data-label': label }));
  cells[0]!.appendChild(h('a', { href: connectionHref(id), class: 'mono' }, id));
  cells[0]!.classList.add('id-cell');
  const tr = h('tr', { 'data-id': id }, ...cells);
  return { tr, cells };
}

function updateRow(row: Row, c: Connection, now: number): void {
  const topics = c.subscriptions ?? [];
  const topicsText = topics.length <= TOPICS_SHOWN ? topics.join(', ') : `${topics.slice(0, TOPICS_SHOWN).join(', ')} +${topics.length - TOPICS_SHOWN} more`;
  const values = [c.gatewayId, c.tenantId ?? '—', c.userId ?? '—', c.identity.sourceIp, c.identity.userAgent || '—', formatSince(c.connectedAt, now), formatAgo(c.lastActiveAt, now), topicsText || '—'];
  values.forEach((value, i) => {
    const cell = row.cells[i + 1];
    if (cell !== undefined) setText(cell, value);
  });
  const topicsCell = row.cells[8];
  if (topicsCell !== undefined && topicsCell.title !== topics.join('\n')) topicsCell.title = topics.join('\n');
  const activeCell = row.cells[7];
  if (activeCell !== undefined && activeCell.title !== c.lastActiveAt) activeCell.title = c.lastActiveAt;
  const connectedCell = row.cells[6];
  if (connectedCell !== undefined && connectedCell.title !== c.connectedAt) connectedCell.title = c.connectedAt;
}

/** One connection, everything `?view=FULL` says, refreshed; with send and disconnect. */
export function connectionDetailView(ctx: ConsoleContext, id: string): View {
  const fields = h('dl', { class: 'record', 'data-testid': 'connection-record' });
  const raw = h('pre', { class: 'raw', 'data-testid': 'connection-json' });
  const status = h('p', { class: 'status', 'data-testid': 'connection-status' }, 'Loading…');
  const region = h('div', { class: 'outcome' });
  // Shown once the record names a user: the Actions view's user form, filled in.
  const userLink = h('a', { class: 'hint', hidden: true, 'data-testid': 'disconnect-user-link' }, 'Disconnect every connection of this user…');
  const element = h(
    'section',
    { class: 'view', 'aria-labelledby': 'detail-title' },
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/connections' }, '← All connections')),
    h('h1', { id: 'detail-title', tabindex: -1 }, 'Connection ', h('span', { class: 'mono' }, id)),
    status,
    region,
    h('div', { class: 'cards' },
      h('section', { class: 'card', 'aria-labelledby': 'record-title' }, h('h2', { id: 'record-title' }, 'Record'), fields, h('details', {}, h('summary', {}, 'As JSON'), raw)),
      h('section', { class: 'card', 'aria-labelledby': 'detail-send-title' }, h('h2', { id: 'detail-send-title' }, 'Send a message'), sendForm(ctx, { connectionId: id })),
      h('section', { class: 'card', 'aria-labelledby': 'detail-disconnect-title' }, h('h2', { id: 'detail-disconnect-title' }, 'Disconnect'), disconnectForm(ctx, { connectionId: id, onDisconnected: () => poller.trigger() }), userLink),
    ),
  );

  const load = async (signal: AbortSignal): Promise<void> => {
    try {
      const connection = await ctx.api.getConnection(id, signal);
      if (signal.aborted) return;
      const now = Date.now();
      renderRecord(fields, connection, now);
      if (connection.userId !== undefined) {
        const query = new URLSearchParams({ user: connection.userId, ...(connection.tenantId === undefined ? {} : { tenant: connection.tenantId }) });
        userLink.setAttribute('href', `#/actions?${query.toString()}`);
        userLink.hidden = false;
      }
      setText(raw, JSON.stringify(connection, null, 2));
      clearOutcome(region);
      setText(status, `Connected · updated ${formatClock(now)}`);
      element.classList.remove('gone');
    } catch (error) {
      if (isAbort(error)) return;
      if (error instanceof ApiError && error.status === 404) {
        setText(status, 'This connection is gone (the API answers 404 NOT_FOUND).');
        element.classList.add('gone');
      } else setText(status, `Update failed at ${formatClock(Date.now())}`);
      showOutcome(region, { error });
    }
  };
  const poller = new Poller(load, REFRESH_MS);
  poller.trigger();
  return { title: `Connection ${id}`, element, dispose: () => poller.stop() };
}

function renderRecord(list: HTMLDListElement, c: Connection, now: number): void {
  const topics = c.subscriptions ?? [];
  const entries: [string, Node | string][] = [
    ['ID', c.id],
    ['Gateway', c.gatewayId],
    ['Tenant', c.tenantId ?? '—'],
    ['User', c.userId ?? '—'],
    ['Source IP', c.identity.sourceIp],
    ['User agent', c.identity.userAgent || '—'],
    ['Connected at', `${c.connectedAt} (${formatSince(c.connectedAt, now)} ago)`],
    ['Last active', `${c.lastActiveAt} (${formatAgo(c.lastActiveAt, now)})`],
    ['Alive', c.isAlive === undefined ? '—' : c.isAlive ? 'yes (answers pings)' : 'no (a pong is overdue)'],
    ['Last ping', c.lastPing ?? '—'],
    [
      'Topics',
      topics.length === 0
        ? 'none'
        : h('ul', { class: 'topic-list' }, ...topics.map((t) => h('li', {}, h('a', { href: `#/topics/${encodeURIComponent(t)}`, class: 'mono' }, t)))),
    ],
  ];
  // Each value is updated in place and the topic links rebuilt only when topics change,
  // so a refresh every two seconds neither moves focus nor interrupts a screen reader.
  for (const [term, value] of entries) {
    let dd = list.querySelector<HTMLElement>(`dd[data-term="${term}"]`);
    if (dd === null) {
      dd = h('dd', { 'data-term': term });
      list.append(h('dt', {}, term), dd);
    }
    if (typeof value === 'string') {
      delete dd.dataset.topics;
      setText(dd, value);
    } else if (dd.dataset.topics !== topics.join('\n')) {
      dd.dataset.topics = topics.join('\n');
      dd.replaceChildren(value);
    }
  }
}
