/**
 * The API key lives in sessionStorage only: gone when the tab closes, never written to
 * localStorage or a cookie, and never sent anywhere but this origin's API.
 */
const KEY = 'switchboard.console.apiKey';

export function storedKey(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function storeKey(key: string): void {
  sessionStorage.setItem(KEY, key);
}

export function forgetKey(): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // storage unavailable: nothing was kept
  }
}
