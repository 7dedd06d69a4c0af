import { describe, expect, it } from 'vitest';
import { shutdownBatches, type PartKind, type StartedPart } from './system.js';

const part = (kind: PartKind, name: string): StartedPart => ({ kind, name, stop: () => Promise.resolve() });
const names = (batches: StartedPart[][]) => batches.map((batch) => batch.map((p) => p.name));

describe('the launcher stop order', () => {
  // Start order, as startSystem starts them.
  const started = [
    part('infrastructure', 'infrastructure'),
    part('subgraph', 'product subgraph'),
    part('subgraph', 'user subgraph'),
    part('subgraph', 'order subgraph'),
    part('projector', 'projector catalog'),
    part('projector', 'projector relay'),
    part('projector http', 'projector http'),
    part('gateway', 'gateway'),
  ];

  it('stops in reverse order of start: the gateway first, then the projector parts one by one, the subgraphs together, the infrastructure last', () => {
    expect(names(shutdownBatches(started))).toEqual([['gateway'], ['projector http'], ['projector relay'], ['projector catalog'], ['order subgraph', 'user subgraph', 'product subgraph'], ['infrastructure']]);
  });

  it('groups by the declared kind, not by the name', () => {
    const renamed = started.map((p) => ({ ...p, name: p.kind === 'subgraph' ? `${p.name.split(' ')[0]!}-service` : `${p.name} subgraph` }));
    expect(shutdownBatches(renamed).map((batch) => batch.length)).toEqual([1, 1, 1, 1, 3, 1]);
  });

  it('stops together only parts next to each other in the stop order', () => {
    expect(names(shutdownBatches([part('subgraph', 'a'), part('projector', 'p'), part('subgraph', 'b'), part('subgraph', 'c')]))).toEqual([['c', 'b'], ['p'], ['a']]);
  });

  it('leaves the started list as it was', () => {
    const copy = [...started];
    shutdownBatches(started);
    expect(started).toEqual(copy);
  });
});
