import { isAbort, type ManagementApi } from './api.js';
import { publishForm } from './actions.js';
import { connectionHref } from './connections.js';
import { REFRESH_MS, type ConsoleContext, type View } from './context.js';
import { h, setText } from './dom.js';
import { formatClock, plural, previewPayload } from './format.js';
import { clearOutcome, showOutcome } from './outcome.js';
import { Poller } from './poller.js';

/** Connections sampled for the overview; the topic page counts exactly (up to COUNT_CAP). */
const SAMPLE_SIZE = 1000;
/** Subscribers counted page by page up to this many; past it the count says "or more". */
const COUNT_CAP = 10_000;
const HISTORY_SHOWN = 20;

export function topicHref(topic: string): string {
  return `#/topics/${encodeURIComponent(topic)}`;
}

/**
 * The overview: topics found on the first connections of the list (the API has no topic
 * index to list), each with its subscribers among them, and a box to open any topic by name.
 */
export function topicsView(ctx: ConsoleContext): View {
  const inputId = 'topic-open';
  const input = h('input', { id: inputId, type: 'text', required: true, autocomplete: 'off', spellcheck: false, list: 'known-topics', placeholder: 'tenant:topic', 'data-testid': 'topic-open' });
  const datalist = h('datalist', { id: 'known-topics' });
  const form = h('form', { class: 'inline-form', role: 'search', 'aria-label': 'Open a topic' }, h('div', { class: 'field' }, h('label', { for: inputId }, 'Topic'), input, datalist), h('div', { class: 'button-row' }, h('button', { type: 'submit', class: 'primary', 'data-testid': 'topic-open-submit' }, 'Open')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const topic = input.value.trim();
    if (topic !== '') location.hash = topicHref(topic);
  });
  const status = h('p', { class: 'status' }, 'Loading…');
  const region = h('div', { class: 'outcome' });
  const tbody = h('tbody', { 'data-testid': 'topics-body' });
  const table = h('table', { class: 'topics' }, h('caption', { class: 'visually-hidden' }, 'Topics with subscribers'), h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Topic'), h('th', { scope: 'col', class: 'num' }, 'Subscribers'))), tbody);
  const empty = h('p', { class: 'empty', hidden: true }, 'No connection is subscribed to any topic.');
  const element = h(
    'section',
    { class: 'view', 'aria-labelledby': 'topics-title' },
    h('h1', { id: 'topics-title', tabindex: -1 }, 'Topics'),
    form,
    status,
    region,
    h('div', { class: 'table-wrap' }, table),
    empty,
  );

  const load = async (signal: AbortSignal): Promise<void> => {
    try {
      const page = await ctx.api.listConnections({}, SAMPLE_SIZE, '', signal);
      const counts = new Map<string, number>();
      for (const c of page.connections) for (const t of c.subscriptions ?? []) counts.set(t, (counts.get(t) ?? 0) + 1);
      const sorted = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
      const signature = JSON.stringify(sorted);
      if (tbody.dataset.signature !== signature) {
        tbody.dataset.signature = signature;
        tbody.replaceChildren(...sorted.map(([topic, n]) => h('tr', {}, h('td', { 'data-label': 'Topic' }, h('a', { href: topicHref(topic), class: 'mono' }, topic)), h('td', { 'data-label': 'Subscribers', class: 'num' }, String(n)))));
        datalist.replaceChildren(...sorted.map(([topic]) => h('option', { value: topic })));
      }
      empty.hidden = sorted.length > 0;
      clearOutcome(region);
      const sampled = page.nextPageToken !== '' ? ` among the first ${SAMPLE_SIZE} connections (open a topic for its exact count)` : '';
      setText(status, `${plural(sorted.length, 'topic')}${sampled} · updated ${formatClock(Date.now())}`);
    } catch (error) {
      if (isAbort(error)) return;
      showOutcome(region, { error });
    }
  };
  const poller = new Poller(load, REFRESH_MS * 2);
  poller.trigger();
  return { title: 'Topics', element, dispose: () => poller.stop() };
}

async function countSubscribers(api: ManagementApi, topic: string, signal: AbortSignal): Promise<{ count: number; capped: boolean; first: string[] }> {
  let count = 0;
  let token = '';
  const first: string[] = [];
  do {
    const page = await api.listConnections({ topic }, 1000, token, signal);
    count += page.connections.length;
    for (const c of page.connections) if (first.length < 10) first.push(c.id);
    token = page.nextPageToken;
  } while (token !== '' && count < COUNT_CAP);
  return { count, capped: token !== '', first };
}

/** One topic: subscribers, presence and the latest publications, refreshed; and publish. */
export function topicDetailView(ctx: ConsoleContext, topic: string): View {
  const status = h('p', { class: 'status' }, 'Loading…');
  const cards = [subscribersCard(ctx.api, topic), presenceCard(ctx.api, topic), historyCard(ctx.api, topic)];
  const element = h(
    'section',
    { class: 'view', 'aria-labelledby': 'topic-title' },
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/topics' }, '← All topics')),
    h('h1', { id: 'topic-title', tabindex: -1 }, 'Topic ', h('span', { class: 'mono' }, topic)),
    status,
    h('div', { class: 'cards' },
      ...cards.map((card) => card.element),
      h('section', { class: 'card', 'aria-labelledby': 'topic-publish-title' }, h('h2', { id: 'topic-publish-title' }, 'Publish'), publishForm(ctx, { topic })),
    ),
  );
  const poller = new Poller(async (signal) => {
    await Promise.all(cards.map((card) => card.load(signal)));
    if (!signal.aborted) setText(status, `Updated ${formatClock(Date.now())}`);
  }, REFRESH_MS * 1.5);
  poller.trigger();
  return { title: `Topic ${topic}`, element, dispose: () => poller.stop() };
}

/** A card of the topic page that refreshes itself; its failures show in its own outcome region. */
interface TopicCard {
  element: HTMLElement;
  load(signal: AbortSignal): Promise<void>;
}

function subscribersCard(api: ManagementApi, topic: string): TopicCard {
  const subscribers = h('p', { class: 'big-number', 'data-testid': 'topic-subscribers' }, '…');
  const subscriberList = h('ul', { class: 'id-list' });
  const region = h('div', { class: 'outcome' });
  const element = h('section', { class: 'card', 'aria-labelledby': 'subs-title' },
    h('h2', { id: 'subs-title' }, 'Subscribers'),
    subscribers,
    subscriberList,
    h('p', {}, h('a', { href: `#/connections?topic=${encodeURIComponent(topic)}` }, 'Show them in the connections table')),
    region,
  );
  const load = async (signal: AbortSignal): Promise<void> => {
    try {
      const result = await countSubscribers(api, topic, signal);
      setText(subscribers, `${result.count}${result.capped ? ' or more' : ''}`);
      const signature = result.first.join(',');
      if (subscriberList.dataset.signature !== signature) {
        subscriberList.dataset.signature = signature;
        subscriberList.replaceChildren(...result.first.map((id) => h('li', {}, h('a', { href: connectionHref(id), class: 'mono' }, id))));
      }
      clearOutcome(region);
    } catch (error) {
      if (!isAbort(error)) showOutcome(region, { error });
    }
  };
  return { element, load };
}

function presenceCard(api: ManagementApi, topic: string): TopicCard {
  const presence = h('div', { 'data-testid': 'topic-presence' }, 'Loading…');
  const region = h('div', { class: 'outcome' });
  const element = h('section', { class: 'card', 'aria-labelledby': 'presence-title' }, h('h2', { id: 'presence-title' }, 'Presence'), presence, region);
  const load = async (signal: AbortSignal): Promise<void> => {
    try {
      const result = await api.presence(topic, signal);
      const signature = JSON.stringify(result);
      if (presence.dataset.signature !== signature) {
        presence.dataset.signature = signature;
        const parts: Node[] = [h('p', {}, `${plural(result.connections.length, 'connection')}, ${plural(result.users.length, 'user')}`)];
        if (result.users.length > 0) parts.push(h('p', {}, 'Users: ', result.users.join(', ')));
        if (result.connections.length > 0) {
          parts.push(h('ul', { class: 'id-list' }, ...result.connections.slice(0, 50).map((c) => h('li', {}, h('a', { href: connectionHref(c.connectionId), class: 'mono' }, c.connectionId), c.userId ? ` (${c.tenantId ? `${c.tenantId}/` : ''}${c.userId})` : ''))));
        }
        presence.replaceChildren(...parts);
      }
      clearOutcome(region);
    } catch (error) {
      if (isAbort(error)) return;
      delete presence.dataset.signature;
      presence.replaceChildren(h('p', {}, 'Presence is not available for this topic:'));
      showOutcome(region, { error });
    }
  };
  return { element, load };
}

function historyCard(api: ManagementApi, topic: string): TopicCard {
  const historyBody = h('tbody', { 'data-testid': 'topic-history' });
  const historyEmpty = h('p', { class: 'empty', hidden: true }, 'No publication in history.');
  const historyStatus = h('p', { class: 'status' });
  const region = h('div', { class: 'outcome' });
  const element = h('section', { class: 'card wide', 'aria-labelledby': 'history-title' },
    h('h2', { id: 'history-title' }, 'Recent history'),
    historyStatus,
    h('div', { class: 'table-wrap' }, h('table', { class: 'history' }, h('thead', {}, h('tr', {}, h('th', { scope: 'col', class: 'num' }, 'Offset'), h('th', { scope: 'col' }, 'Published'), h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col' }, 'Data'))), historyBody)),
    historyEmpty,
    region,
  );
  const load = async (signal: AbortSignal): Promise<void> => {
    try {
      // The newest offset first, then the last publications up to it (history reads oldest first).
      const head = await api.history(topic, { limit: 1 }, signal);
      const since = Math.max(0, head.offset - HISTORY_SHOWN);
      const recent = head.offset === 0 ? head : await api.history(topic, { sinceOffset: since, limit: HISTORY_SHOWN }, signal);
      const publications = [...recent.publications].reverse();
      const signature = `${recent.epoch}:${publications.map((p) => p.offset).join(',')}`;
      if (historyBody.dataset.signature !== signature) {
        historyBody.dataset.signature = signature;
        historyBody.replaceChildren(
          ...publications.map((p) =>
            h('tr', {}, h('td', { class: 'num', 'data-label': 'Offset' }, String(p.offset)), h('td', { 'data-label': 'Published' }, p.publishedAt), h('td', { 'data-label': 'Type' }, p.type), h('td', { 'data-label': 'Data', class: 'mono wrap' }, previewPayload(p.data, p.type))),
          ),
        );
      }
      historyEmpty.hidden = publications.length > 0;
      setText(historyStatus, `Latest offset ${recent.offset}, epoch ${recent.epoch || '—'}${recent.complete ? '' : ` (history no longer holds all of the last ${HISTORY_SHOWN})`}`);
      clearOutcome(region);
    } catch (error) {
      if (!isAbort(error)) showOutcome(region, { error });
    }
  };
  return { element, load };
}
