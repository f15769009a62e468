/**
 * The management API's answer corpus: hundreds of requests over every route (answer-corpus/
 * requests.ts), valid and invalid, replayed against a real node and compared with the answers
 * recorded in answer-corpus/answers.json byte for byte, after masking what differs from run to
 * run (ids, times, epochs). Any change in what the API answers shows here, request by request.
 *
 * Re-record (only for a deliberate change, listed in its commit):
 *   RECORD_ANSWER_CORPUS=1 npx vitest run test/api/answer-corpus.test.ts
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { recordCorpus, type CorpusEntry } from './answer-corpus/recorder.js';
import { corpusRequests } from './answer-corpus/requests.js';

const FIXTURE = new URL('./answer-corpus/answers.json', import.meta.url);
const RECORD = process.env.RECORD_ANSWER_CORPUS === '1';
const ACTUAL = new URL('../../test-results/answer-corpus.actual.json', import.meta.url).pathname;

/** An answer in a line: a failing replay lists each changed request, not the whole corpus. */
function brief(answer: CorpusEntry['answer'] | undefined): string {
  if (answer === undefined) return 'nothing';
  const body = answer.body.length > 300 ? `${answer.body.slice(0, 300)}… (${answer.body.length} characters)` : answer.body;
  return `${answer.status} ${answer.contentType ?? '-'}${answer.awsErrorType ? ` ${answer.awsErrorType}` : ''} ${body}`;
}

describe('management API answer corpus', () => {
  let recorded: CorpusEntry[];
  const expected = RECORD ? [] : (JSON.parse(readFileSync(FIXTURE, 'utf8')) as CorpusEntry[]);

  beforeAll(async () => {
    recorded = await recordCorpus();
    if (RECORD) writeFileSync(FIXTURE, `${JSON.stringify(recorded, null, 1)}\n`);
    // What was answered this time, to diff against the fixture when the replay fails.
    mkdirSync(ACTUAL.replace(/[^/]+$/, ''), { recursive: true });
    writeFileSync(ACTUAL, `${JSON.stringify(recorded, null, 1)}\n`);
  }, 120_000);

  it('covers at least 500 requests, each named once', () => {
    const names = corpusRequests().map((r) => r.name);
    expect(names.length).toBeGreaterThanOrEqual(500);
    expect(new Set(names).size).toBe(names.length);
  });

  it('sends the recorded requests, in the recorded order', () => {
    expect(recorded.map((e) => [e.name, e.request])).toEqual((RECORD ? recorded : expected).map((e) => [e.name, e.request]));
  });

  it('answers every request exactly as recorded', () => {
    const differences = recorded
      .map((entry, i) => ({ name: entry.name, got: entry.answer, want: (RECORD ? recorded : expected)[i]?.answer }))
      .filter(({ got, want }) => JSON.stringify(got) !== JSON.stringify(want))
      .map(({ name, got, want }) => `${name}: was ${brief(want)}, now ${brief(got)}`);
    expect(differences).toEqual([]);
  });
});
