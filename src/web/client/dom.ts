/** Small DOM helpers shared by the pages. */

type ElementType<T extends HTMLElement> = abstract new (...args: never[]) => T;

/** The element, checked to be of `type`; null when the page has none (or one of another kind). */
export function $(selector: string): HTMLElement | null;
export function $<T extends HTMLElement>(selector: string, type: ElementType<T>, root?: ParentNode): T | null;
export function $(selector: string, type: ElementType<HTMLElement> = HTMLElement, root: ParentNode = document): HTMLElement | null {
  const element = root.querySelector(selector);
  return element instanceof type ? element : null;
}

/** An element the page's template always has; its absence is a bug in the template, reported by name. */
export function required(selector: string): HTMLElement;
export function required<T extends HTMLElement>(selector: string, type: ElementType<T>, root?: ParentNode): T;
export function required(selector: string, type: ElementType<HTMLElement> = HTMLElement, root: ParentNode = document): HTMLElement {
  const element = $(selector, type, root);
  if (!element) throw new Error(`the page has no ${selector} (${type.name})`);
  return element;
}

/**
 * Puts a message in one of the page's aria-live regions. The regions stay in
 * the page, empty when silent: a region that is hidden, or added with its
 * text, is not reliably announced by screen readers.
 */
export function show(target: HTMLElement | null, message: string, kind: 'error' | 'ok' = 'error'): void {
  if (!target) return;
  target.textContent = message;
  target.className = `message ${message === '' ? '' : kind}`.trim();
}

/** Moves focus to an element that is not focusable by itself (a heading), without it joining the tab order. */
export function focusOn(element: HTMLElement | null): void {
  if (!element) return;
  if (!element.hasAttribute('tabindex') && !['INPUT', 'TEXTAREA', 'BUTTON', 'SELECT', 'A'].includes(element.tagName)) element.tabIndex = -1;
  element.focus();
}

export function remaining(seconds: number): string {
  if (seconds >= 86_400) return `${Math.floor(seconds / 86_400)} d ${Math.floor((seconds % 86_400) / 3600)} h`;
  if (seconds >= 3600) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  if (seconds >= 60) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.max(0, seconds)} s`;
}
