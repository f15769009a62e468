import { ApiError } from './api.js';
import { h } from './dom.js';

/**
 * The result of an action or a load, in a live region. An API error is shown as it came:
 * the HTTP status line and the body verbatim, so what the operator reads is what a script
 * calling the API would have seen.
 */
export function showOutcome(region: HTMLElement, outcome: { ok: string } | { error: unknown }): void {
  region.replaceChildren();
  region.classList.remove('success', 'failure');
  if ('ok' in outcome) {
    region.classList.add('success');
    region.setAttribute('role', 'status');
    region.appendChild(h('p', {}, outcome.ok));
    return;
  }
  region.classList.add('failure');
  region.setAttribute('role', 'alert');
  region.appendChild(errorDetails(outcome.error));
}

export function clearOutcome(region: HTMLElement): void {
  region.replaceChildren();
  region.classList.remove('success', 'failure');
}

export function errorDetails(error: unknown): HTMLElement {
  if (error instanceof ApiError) {
    const heading = error.status === 0 ? `${error.method} ${error.path}: no answer from the node` : `${error.method} ${error.path} → HTTP ${error.status}${error.statusText ? ` ${error.statusText}` : ''}`;
    return h('div', { class: 'api-error', 'data-testid': 'api-error' }, h('p', { class: 'api-error-status' }, heading), h('pre', { class: 'api-error-body' }, error.body === '' ? '(empty body)' : error.body));
  }
  return h('div', { class: 'api-error', 'data-testid': 'api-error' }, h('p', {}, error instanceof Error ? error.message : String(error)));
}
