import './styles.css';
import { ApiError, ManagementApi } from './api.js';
import { actionsView } from './actions.js';
import { chartsView } from './charts.js';
import { connectionDetailView, connectionsView } from './connections.js';
import type { ConsoleContext, View } from './context.js';
import { h } from './dom.js';
import { MetricsSampler } from './metrics.js';
import { errorDetails } from './outcome.js';
import { forgetKey, storeKey, storedKey } from './session.js';
import { topicDetailView, topicsView } from './topics.js';

/**
 * The console shell: sign-in, navigation and a hash router (#/connections, #/connections/ID,
 * #/topics, #/topics/NAME, #/actions, #/charts). Hash routes keep the server side to one
 * static index.html.
 */

const root = document.getElementById('app')!;

const NAV = [
  ['connections', 'Connections'],
  ['topics', 'Topics'],
  ['actions', 'Actions'],
  ['charts', 'Charts'],
] as const;

interface Session {
  ctx: ConsoleContext;
  view: View | undefined;
  main: HTMLElement;
  links: Map<string, HTMLAnchorElement>;
  onHashChange: () => void;
}

let session: Session | undefined;

function showLogin(reason?: unknown): void {
  endSession();
  const input = h('input', { id: 'api-key', name: 'api-key', type: 'password', autocomplete: 'off', spellcheck: false, 'aria-describedby': 'api-key-hint', 'data-testid': 'api-key' });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'login-submit' }, 'Sign in');
  const region = h('div', { class: 'outcome', 'data-testid': 'login-error' });
  if (reason !== undefined) showLoginError(region, reason);
  const form = h(
    'form',
    { class: 'login card', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'Switchboard console'),
    h('div', { class: 'field' }, h('label', { for: 'api-key' }, 'Management API key'), input),
    h('p', { class: 'hint', id: 'api-key-hint' }, 'Kept in this tab only (sessionStorage) and sent to this node as "Authorization: Bearer". Leave empty if the node runs without API keys.'),
    h('div', { class: 'button-row' }, submit),
    region,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void (async () => {
      submit.disabled = true;
      const key = input.value.trim();
      try {
        // A key is good when it may read the connection list, which every view needs.
        await new ManagementApi(key).listConnections({}, 1, '');
        storeKey(key);
        startSession(key);
      } catch (error) {
        showLoginError(region, error);
        input.focus();
        input.select();
      } finally {
        submit.disabled = false;
      }
    })();
  });
  root.replaceChildren(h('main', { class: 'login-page' }, form));
  document.title = 'Sign in · Switchboard console';
  input.focus();
}

function showLoginError(region: HTMLElement, error: unknown): void {
  const message =
    error instanceof ApiError && error.status === 401
      ? 'The API key was refused.'
      : error instanceof ApiError && error.status === 403
        ? 'This API key may not read connections (it needs the "read" scope).'
        : 'Could not reach the management API.';
  region.classList.add('failure');
  region.setAttribute('role', 'alert');
  region.replaceChildren(h('p', { class: 'login-message' }, message), errorDetails(error));
}

function startSession(key: string): void {
  endSession();
  const api: ManagementApi = new ManagementApi(key, (error) => {
    // Several requests may fail at once; only the first one of this session signs out.
    if (session?.ctx.api !== api) return;
    forgetKey();
    showLogin(error);
  });
  const sampler = new MetricsSampler(api);
  const ctx: ConsoleContext = { api, sampler };
  const links = new Map<string, HTMLAnchorElement>();
  const nav = h('nav', { class: 'nav', 'aria-label': 'Console' }, h('ul', {}, ...NAV.map(([route, label]) => {
    const link = h('a', { href: `#/${route}`, 'data-testid': `nav-${route}` }, label);
    links.set(route, link);
    return h('li', {}, link);
  })));
  const signOut = h('button', { type: 'button', class: 'secondary', 'data-testid': 'sign-out' }, 'Sign out');
  signOut.addEventListener('click', () => {
    forgetKey();
    showLogin();
  });
  const main = h('main', { id: 'main', tabindex: -1 });
  root.replaceChildren(
    h('a', { href: '#main', class: 'skip-link', onclick: (e: Event) => { e.preventDefault(); main.focus(); } }, 'Skip to content'),
    h('header', { class: 'top' }, h('p', { class: 'brand' }, 'Switchboard'), nav, h('p', { class: 'node' }, location.host), signOut),
    main,
  );
  const onHashChange = (): void => route(true);
  session = { ctx, view: undefined, main, links, onHashChange };
  window.addEventListener('hashchange', onHashChange);
  sampler.start();
  route(false);
}

function endSession(): void {
  if (session === undefined) return;
  session.view?.dispose();
  session.ctx.sampler.stop();
  window.removeEventListener('hashchange', session.onHashChange);
  session = undefined;
}

function route(moveFocus: boolean): void {
  if (session === undefined) return;
  const raw = location.hash.replace(/^#\/?/, '');
  const [pathPart = '', queryPart = ''] = raw.split('?', 2) as [string?, string?];
  const query = new URLSearchParams(queryPart);
  const [section = 'connections', ...rest] = pathPart.split('/');
  const param = rest.length > 0 ? safeDecode(rest.join('/')) : undefined;
  const { ctx } = session;
  let view: View;
  switch (section) {
    case 'topics':
      view = param ? topicDetailView(ctx, param) : topicsView(ctx);
      break;
    case 'actions':
      view = actionsView(ctx, query);
      break;
    case 'charts':
      view = chartsView(ctx);
      break;
    default:
      view = param ? connectionDetailView(ctx, param) : connectionsView(ctx, query);
  }
  session.view?.dispose();
  session.view = view;
  session.main.replaceChildren(view.element);
  const current = NAV.some(([r]) => r === section) ? section : 'connections';
  for (const [name, link] of session.links) {
    if (name === current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `${view.title} · Switchboard console`;
  // After a navigation, keyboard and screen-reader users land on the new view's heading.
  if (moveFocus) view.element.querySelector<HTMLElement>('h1')?.focus();
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

const key = storedKey();
if (key === null) showLogin();
else startSession(key);
