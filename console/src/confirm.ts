import { h } from './dom.js';

export interface Confirmation {
  title: string;
  /** What exactly will happen, one line each. */
  lines: string[];
  confirmLabel: string;
  /** Destructive actions start with Cancel focused. */
  danger?: boolean;
}

let dialog: HTMLDialogElement | undefined;

/**
 * Asks before anything changes a live connection: a modal <dialog>, so focus stays inside,
 * Escape cancels, and focus returns where it was.
 */
export function confirmAction(confirmation: Confirmation): Promise<boolean> {
  dialog?.remove();
  const previous = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const titleId = 'confirm-title';
  const cancel = h('button', { type: 'button', class: 'secondary', 'data-testid': 'confirm-cancel' }, 'Cancel');
  const ok = h('button', { type: 'button', class: confirmation.danger ? 'danger' : 'primary', 'data-testid': 'confirm-ok' }, confirmation.confirmLabel);
  const element = h(
    'dialog',
    { class: 'confirm', 'aria-labelledby': titleId, 'data-testid': 'confirm-dialog' },
    h('h2', { id: titleId }, confirmation.title),
    ...confirmation.lines.map((line) => h('p', { class: 'confirm-line' }, line)),
    h('div', { class: 'button-row' }, cancel, ok),
  );
  dialog = element;
  document.body.appendChild(element);
  return new Promise((resolve) => {
    let answered = false;
    const finish = (answer: boolean): void => {
      if (answered) return;
      answered = true;
      if (element.open) element.close();
      element.remove();
      if (dialog === element) dialog = undefined;
      previous?.focus();
      resolve(answer);
    };
    cancel.addEventListener('click', () => finish(false));
    ok.addEventListener('click', () => finish(true));
    element.addEventListener('cancel', (event) => {
      event.preventDefault();
      finish(false);
    });
    element.addEventListener('close', () => finish(false));
    element.showModal();
    (confirmation.danger ? cancel : ok).focus();
  });
}
