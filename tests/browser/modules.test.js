// The studio's pure functions, run in Node on the very files the binary
// serves: the SSE reader the chat streams through, the chart's scales and
// days, the age rule the sign-up form uses to ask for a guardian, and the
// image studio's progress line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readSSE } from '../../web/studio/chat.js';
import { niceMax, daysBetween } from '../../web/studio/chart.js';
import { ageOf } from '../../web/studio/auth.js';
import { progressOf } from '../../web/studio/images.js';

// A byte stream that delivers the given pieces one read at a time.
function stream(pieces) {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) { for (const p of pieces) c.enqueue(typeof p === 'string' ? enc.encode(p) : p); c.close(); },
  });
}

test('readSSE: events split anywhere across reads, CRLF or LF, multi-line data, [DONE] ends (REQ: GEN-1)', async () => {
  const euro = new TextEncoder().encode('data: {"t":"€"}\n\n');
  const pieces = ['data: {"a"', ':1}\n', '\ndata:{"b":2}\r\n\r\n', ': comment\n\n', 'event: x\ndata: line1\ndata: line2\n\n',
    euro.slice(0, 11), euro.slice(11), 'data: [DONE]\n\n', 'data: {"after":true}\n\n'];
  const got = [];
  await readSSE(stream(pieces), (d) => { got.push(d); return d !== '[DONE]'; });
  assert.deepEqual(got, ['{"a":1}', '{"b":2}', 'line1\nline2', '{"t":"€"}', '[DONE]']);
});

test('readSSE: a stream that ends without a blank line delivers nothing half-read', async () => {
  const got = [];
  await readSSE(stream(['data: {"a":1}\n\ndata: {"partial"']), (d) => { got.push(d); });
  assert.deepEqual(got, ['{"a":1}']);
});

test('niceMax: 1, 2, 5 times a power of ten at or above the value', () => {
  assert.deepEqual([0, 0.3, 1, 1.2, 3, 7, 10, 11, 96, 144, 5001].map(niceMax), [1, 0.5, 1, 2, 5, 10, 10, 20, 100, 200, 10000]);
});

test('daysBetween: every day inclusive, across a month end and a leap day', () => {
  assert.deepEqual(daysBetween('2028-02-27', '2028-03-01'), ['2028-02-27', '2028-02-28', '2028-02-29', '2028-03-01']);
  assert.deepEqual(daysBetween('2026-11-23', '2026-11-23'), ['2026-11-23']);
  assert.deepEqual(daysBetween('2026-11-24', '2026-11-23'), []);
});

test('ageOf: whole years, the birthday itself counts (REQ: AGE-1, REQ: AGE-2)', () => {
  const now = new Date(2026, 10, 23); // 23 November 2026, local time
  assert.equal(ageOf('2013-11-23', now), 13, 'thirteen today');
  assert.equal(ageOf('2013-11-24', now), 12, 'thirteen tomorrow');
  assert.equal(ageOf('2008-11-24', now), 17);
  assert.equal(ageOf('2008-11-23', now), 18);
  assert.equal(ageOf('', now), null);
  assert.equal(ageOf('23/11/2008', now), null);
});

test('progressOf: step k of n over all images of a job, image_index from 0 while running (REQ: GEN-2)', () => {
  assert.deepEqual(progressOf({ status: 'queued', step: 0, steps: 25, image_index: 0, n: 1 }),
    { value: 0, max: 25, text: 'Waiting for a free engine…' });
  assert.deepEqual(progressOf({ status: 'running', step: 5, steps: 25, image_index: 0, n: 1 }),
    { value: 5, max: 25, text: 'step 5 of 25' });
  assert.deepEqual(progressOf({ status: 'running', step: 3, steps: 10, image_index: 1, n: 3 }),
    { value: 13, max: 30, text: 'Image 2 of 3: step 3 of 10' });
  assert.deepEqual(progressOf({ status: 'done', step: 10, steps: 10, image_index: 3, n: 3 }),
    { value: 30, max: 30, text: 'Done: 3 images, 10 steps each.' });
  assert.equal(progressOf({ status: 'failed', error: 'engine_error', steps: 10, n: 1 }).text, 'Failed: engine_error');
});
