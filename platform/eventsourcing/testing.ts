import { expect } from 'vitest';
import type { DomainError } from '../errors.js';
import { fold, type Decider, type DomainEvent } from './decider.js';

/**
 * given(events).when(command).then(events) for pure deciders.
 *
 *   spec.given([ProductCreated]).when(restock).then([ProductRestocked])
 *   spec.given([]).when(restock).thenFails({ code: 'NOT_FOUND' })
 */
export function deciderSpec<Command, Event extends DomainEvent, State>(decider: Decider<Command, Event, State>) {
  return {
    given(events: readonly Event[]) {
      return {
        when(command: Command) {
          const run = () => decider.decide(command, fold(decider, events));
          return {
            then(expected: readonly Event[]) {
              expect(run()).toEqual(expected);
            },
            thenNothingHappens() {
              expect(run()).toEqual([]);
            },
            thenFails(expected: Partial<Pick<DomainError, 'code' | 'field'>> & { message?: RegExp }) {
              let thrown: unknown;
              try {
                run();
              } catch (error) {
                thrown = error;
              }
              expect(thrown, 'expected the command to fail').toBeDefined();
              const { message, ...rest } = expected;
              expect(thrown).toMatchObject(rest);
              if (message) expect((thrown as Error).message).toMatch(message);
            },
          };
        },
      };
    },
  };
}
