// The Replay bench section's own logic (no timing assertions): its generated lines all replay, and the changed copy of
// the demo policy changes exactly the records that mention a wire transfer (one text in five).
import { describe, expect, it } from 'vitest';
import { ALL_PLUGINS } from '../plugins/index.ts';
import { parseLine } from '../src/replay/records.ts';
import { benchReplay, generateReplayLines } from './replay.ts';

describe('benchReplay', () => {
  it('generates audit records with a capture and request bodies, every one replayable', () => {
    const lines = generateReplayLines(10).trimEnd().split('\n');
    expect(lines).toHaveLength(10);
    expect(lines.map((l, i) => parseLine(l, i + 1).kind)).toEqual(Array(10).fill('item'));
    expect(lines[0]).toMatch(/^2026-12-06T10:00:00Z policy_id=demo .* replay="/);
  });

  it('replays them under the bundled rules and the changed copy: the wire-transfer records change', async () => {
    const r = await benchReplay(ALL_PLUGINS, { records: 400 });
    expect(r.records).toBe(400);
    expect(r.changed).toBe(80);
    for (const k of ['parseOnlyPerSec', 'replayPerSec', 'unchangedPerSec', 'ratioToParse', 'secondsPer100k'] as const) expect(r[k]).toBeGreaterThan(0);
  });
});
