import type { PayloadType } from './api.js';
import { confirmAction } from './confirm.js';
import type { ConsoleContext, View } from './context.js';
import { h, uid } from './dom.js';
import { base64ToBytes, compactBase64, plural, textToBase64 } from './format.js';
import { clearOutcome, showOutcome } from './outcome.js';

/**
 * The actions that change something: send to a connection, disconnect it, cut a user off,
 * publish to a topic. Each asks for confirmation first and shows the API's answer as it came.
 */

interface PayloadFields {
  fieldset: HTMLFieldSetElement;
  /** Base64 to send and its decoded size; the API validates it, the console only counts. */
  read(): { data: string; type: PayloadType; bytes: number | undefined };
}

function payloadFields(prefix: string): PayloadFields {
  const textId = uid(`${prefix}-type-text`);
  const binaryId = uid(`${prefix}-type-binary`);
  const dataId = uid(`${prefix}-data`);
  const hintId = uid(`${prefix}-hint`);
  const name = uid(`${prefix}-type`);
  const text = h('input', { type: 'radio', name, id: textId, value: 'TEXT', checked: true, 'data-testid': `${prefix}-type-text` });
  const binary = h('input', { type: 'radio', name, id: binaryId, value: 'BINARY', 'data-testid': `${prefix}-type-binary` });
  const label = h('label', { for: dataId }, 'Message text');
  const hint = h('p', { class: 'hint', id: hintId }, 'Sent as a text frame, UTF-8.');
  const data = h('textarea', { id: dataId, rows: 4, 'aria-describedby': hintId, spellcheck: false, 'data-testid': `${prefix}-data` });
  const update = (): void => {
    const isText = text.checked;
    label.textContent = isText ? 'Message text' : 'Message data (base64)';
    hint.textContent = isText ? 'Sent as a text frame, UTF-8.' : 'Sent as a binary frame: paste the bytes as base64 (standard or URL-safe).';
  };
  text.addEventListener('change', update);
  binary.addEventListener('change', update);
  const fieldset = h(
    'fieldset',
    { class: 'payload' },
    h('legend', {}, 'Message'),
    h('div', { class: 'radio-row' }, h('span', { class: 'radio' }, text, h('label', { for: textId }, 'Text')), h('span', { class: 'radio' }, binary, h('label', { for: binaryId }, 'Binary (base64)'))),
    label,
    data,
    hint,
  );
  return {
    fieldset,
    read: () => {
      if (text.checked) {
        const encoded = new TextEncoder().encode(data.value);
        return { data: textToBase64(data.value), type: 'TEXT', bytes: encoded.length };
      }
      const compact = compactBase64(data.value);
      return { data: compact, type: 'BINARY', bytes: base64ToBytes(compact)?.length };
    },
  };
}

function sizeText(bytes: number | undefined): string {
  return bytes === undefined ? 'data that is not valid base64 (the API will say so)' : plural(bytes, 'byte');
}

function idField(prefix: string, initial: string, labelText: string): { wrapper: HTMLElement; input: HTMLInputElement } {
  const id = uid(prefix);
  const input = h('input', { id, type: 'text', value: initial, required: true, autocomplete: 'off', spellcheck: false, 'data-testid': prefix });
  return { wrapper: h('div', { class: 'field' }, h('label', { for: id }, labelText), input), input };
}

/** Send to one connection; `connectionId` fixed (detail view) or typed in (Actions view). */
export function sendForm(ctx: ConsoleContext, options: { connectionId?: string; initialId?: string }): HTMLElement {
  const idInput = options.connectionId === undefined ? idField('send-connection', options.initialId ?? '', 'Connection id') : undefined;
  const payload = payloadFields('send');
  const region = h('div', { class: 'outcome', 'data-testid': 'send-outcome' });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'send-submit' }, 'Send…');
  const form = h('form', { class: 'action-form', 'aria-label': 'Send a message' }, idInput?.wrapper, payload.fieldset, h('div', { class: 'button-row' }, submit), region);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void (async () => {
      const id = (options.connectionId ?? idInput?.input.value ?? '').trim();
      const { data, type, bytes } = payload.read();
      clearOutcome(region);
      const yes = await confirmAction({
        title: 'Send this message?',
        lines: [`To connection ${id || '(none given)'}`, `${type === 'TEXT' ? 'Text' : 'Binary'} frame, ${sizeText(bytes)}.`],
        confirmLabel: 'Send',
      });
      if (!yes) return;
      submit.disabled = true;
      try {
        await ctx.api.send(id, data, type);
        showOutcome(region, { ok: `Sent ${sizeText(bytes)} (${type}) to ${id}.` });
      } catch (error) {
        showOutcome(region, { error });
      } finally {
        submit.disabled = false;
      }
    })();
  });
  return form;
}

export function disconnectForm(ctx: ConsoleContext, options: { connectionId?: string; initialId?: string; onDisconnected?: (id: string) => void }): HTMLElement {
  const idInput = options.connectionId === undefined ? idField('disconnect-connection', options.initialId ?? '', 'Connection id') : undefined;
  const region = h('div', { class: 'outcome', 'data-testid': 'disconnect-outcome' });
  const submit = h('button', { type: 'submit', class: 'danger', 'data-testid': 'disconnect-submit' }, 'Disconnect…');
  const form = h(
    'form',
    { class: 'action-form', 'aria-label': 'Disconnect a connection' },
    idInput?.wrapper,
    h('p', { class: 'hint' }, 'Closes the socket with code 1000; the disconnect integration is told.'),
    h('div', { class: 'button-row' }, submit),
    region,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void (async () => {
      const id = (options.connectionId ?? idInput?.input.value ?? '').trim();
      clearOutcome(region);
      const yes = await confirmAction({
        title: 'Disconnect this connection?',
        lines: [`Connection ${id || '(none given)'} will be closed with code 1000.`, 'The client may reconnect, with a new id.'],
        confirmLabel: 'Disconnect',
        danger: true,
      });
      if (!yes) return;
      submit.disabled = true;
      try {
        await ctx.api.disconnect(id);
        showOutcome(region, { ok: `Disconnected ${id}.` });
        options.onDisconnected?.(id);
      } catch (error) {
        showOutcome(region, { error });
      } finally {
        submit.disabled = false;
      }
    })();
  });
  return form;
}

/** Cut a user off: every connection of the user, on every node, closed with 4001. */
export function disconnectUserForm(ctx: ConsoleContext, options: { userId?: string; tenantId?: string }): HTMLElement {
  const user = idField('disconnect-user', options.userId ?? '', 'User id');
  const tenantId = uid('disconnect-user-tenant');
  const tenant = h('input', { id: tenantId, type: 'text', value: options.tenantId ?? '', autocomplete: 'off', spellcheck: false, 'data-testid': 'disconnect-user-tenant' });
  const region = h('div', { class: 'outcome', 'data-testid': 'disconnect-user-outcome' });
  const submit = h('button', { type: 'submit', class: 'danger', 'data-testid': 'disconnect-user-submit' }, 'Disconnect user…');
  const form = h(
    'form',
    { class: 'action-form', 'aria-label': 'Disconnect a user' },
    user.wrapper,
    h('div', { class: 'field' }, h('label', { for: tenantId }, 'Tenant id (optional: every tenant when empty)'), tenant),
    h('p', { class: 'hint' }, 'Closes every connection of the user on every node with code 4001 "user disconnected".'),
    h('div', { class: 'button-row' }, submit),
    region,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void (async () => {
      const userId = user.input.value.trim();
      const tenantValue = tenant.value.trim();
      clearOutcome(region);
      const yes = await confirmAction({
        title: 'Disconnect this user?',
        lines: [
          `Every connection of user ${userId || '(none given)'}${tenantValue ? ` in tenant ${tenantValue}` : ' in every tenant'} will be closed with code 4001.`,
          'Clients may reconnect unless their tokens are revoked.',
        ],
        confirmLabel: 'Disconnect user',
        danger: true,
      });
      if (!yes) return;
      submit.disabled = true;
      try {
        const result = await ctx.api.disconnectUser(userId, tenantValue || undefined);
        showOutcome(region, { ok: `Disconnected ${plural(result.disconnected, 'connection')} of ${userId}.` });
      } catch (error) {
        showOutcome(region, { error });
      } finally {
        submit.disabled = false;
      }
    })();
  });
  return form;
}

export function publishForm(ctx: ConsoleContext, options: { topic?: string }): HTMLElement {
  const topic = idField('publish-topic', options.topic ?? '', 'Topic');
  topic.input.setAttribute('placeholder', 'tenant:topic');
  const keyId = uid('publish-key');
  const key = h('input', { id: keyId, type: 'text', autocomplete: 'off', spellcheck: false, 'data-testid': 'publish-key' });
  const payload = payloadFields('publish');
  const region = h('div', { class: 'outcome', 'data-testid': 'publish-outcome' });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'publish-submit' }, 'Publish…');
  const form = h(
    'form',
    { class: 'action-form', 'aria-label': 'Publish to a topic' },
    topic.wrapper,
    payload.fieldset,
    h('div', { class: 'field' }, h('label', { for: keyId }, 'Idempotency key (optional)'), key),
    h('div', { class: 'button-row' }, submit),
    region,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void (async () => {
      const name = topic.input.value.trim();
      const { data, type, bytes } = payload.read();
      clearOutcome(region);
      const yes = await confirmAction({
        title: 'Publish to this topic?',
        lines: [`Topic ${name || '(none given)'}: every subscriber on every node receives it.`, `${type === 'TEXT' ? 'Text' : 'Binary'}, ${sizeText(bytes)}.`],
        confirmLabel: 'Publish',
      });
      if (!yes) return;
      submit.disabled = true;
      try {
        const result = await ctx.api.publish(name, data, type, key.value.trim() || undefined);
        showOutcome(region, { ok: `Published to ${name} at offset ${result.offset} (epoch ${result.epoch}); delivered to ${plural(result.delivered, 'connection')}.` });
      } catch (error) {
        showOutcome(region, { error });
      } finally {
        submit.disabled = false;
      }
    })();
  });
  return form;
}

/** The Actions view: every action, for an id, user or topic typed in (or carried in the link). */
export function actionsView(ctx: ConsoleContext, query: URLSearchParams): View {
  const connection = query.get('connection') ?? '';
  const topic = query.get('topic') ?? '';
  const element = h(
    'section',
    { class: 'view', 'aria-labelledby': 'actions-title' },
    h('h1', { id: 'actions-title', tabindex: -1 }, 'Actions'),
    h('div', { class: 'cards' },
      h('section', { class: 'card', 'aria-labelledby': 'send-title' }, h('h2', { id: 'send-title' }, 'Send to a connection'), sendForm(ctx, { initialId: connection })),
      h('section', { class: 'card', 'aria-labelledby': 'disconnect-title' }, h('h2', { id: 'disconnect-title' }, 'Disconnect a connection'), disconnectForm(ctx, { initialId: connection })),
      h('section', { class: 'card', 'aria-labelledby': 'disconnect-user-title' }, h('h2', { id: 'disconnect-user-title' }, 'Disconnect a user'), disconnectUserForm(ctx, { userId: query.get('user') ?? '', tenantId: query.get('tenant') ?? '' })),
      h('section', { class: 'card', 'aria-labelledby': 'publish-title' }, h('h2', { id: 'publish-title' }, 'Publish to a topic'), publishForm(ctx, { topic })),
    ),
  );
  return { title: 'Actions', element, dispose: () => undefined };
}
