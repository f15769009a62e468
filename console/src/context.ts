import type { ManagementApi } from './api.js';
import type { MetricsSampler } from './metrics.js';

/** What every view is given. */
export interface ConsoleContext {
  api: ManagementApi;
  sampler: MetricsSampler;
}

/** A rendered view; `dispose` stops its polling when the operator navigates away. */
export interface View {
  title: string;
  element: HTMLElement;
  dispose(): void;
}

export const REFRESH_MS = 2000;
