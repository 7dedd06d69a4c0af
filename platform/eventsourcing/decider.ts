/** A domain event as deciders see it: a past-tense type and its data (no envelope). */
export interface DomainEvent<Type extends string = string, Data = unknown> {
  type: Type;
  data: Data;
}

/**
 * The whole behaviour of one aggregate, as pure functions: no I/O, no clock, no random ids.
 * Time and ids arrive inside the command.
 */
export interface Decider<Command, Event extends DomainEvent, State> {
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
  initialState(): State;
}

/** Applies `events` in order, from the initial state or from `from`. */
export function fold<Event extends DomainEvent, State>(decider: Pick<Decider<unknown, Event, State>, 'evolve' | 'initialState'>, events: readonly Event[], from: State = decider.initialState()): State {
  return events.reduce((state, event) => decider.evolve(state, event), from);
}
