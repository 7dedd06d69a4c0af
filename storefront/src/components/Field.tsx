import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import type { UserErrorFieldsFragment } from '../__generated__/graphql.js';

export type UserErrors = readonly UserErrorFieldsFragment[];

/** Whether a userError's field path ends with `name` (e.g. "price.amount" for ["input", "price", "amount"]). */
export function isFor(error: UserErrorFieldsFragment, name: string): boolean {
  const path = (error.field ?? []).join('.');
  return path === name || path.endsWith(`.${name}`);
}

/** The userErrors no field of the form shows: listed above the form. */
export function FormErrors({ errors, fields }: { errors: UserErrors; fields: readonly string[] }) {
  const rest = errors.filter((e) => !fields.some((f) => isFor(e, f)));
  if (rest.length === 0) return null;
  return (
    <ul class="form-errors" role="alert">
      {rest.map((e) => (
        <li key={e.code + e.message}>
          {e.message} ({e.code})
        </li>
      ))}
    </ul>
  );
}

let ids = 0;

/** A labelled control with its userErrors right below it (linked with aria-describedby). */
export function Field(props: { label: string; name: string; errors?: UserErrors; hint?: string; children: (attrs: { id: string; name: string; 'aria-invalid': boolean; 'aria-describedby'?: string }) => ComponentChildren }) {
  const [id] = useState(() => `f-${props.name.replace(/\W/g, '-')}-${(ids += 1)}`);
  const mine = (props.errors ?? []).filter((e) => isFor(e, props.name));
  const described = [props.hint && `${id}-hint`, mine.length > 0 && `${id}-err`].filter(Boolean).join(' ');
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      {props.children({ id, name: props.name, 'aria-invalid': mine.length > 0, ...(described && { 'aria-describedby': described }) })}
      {props.hint && (
        <p class="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      )}
      {mine.length > 0 && (
        <p class="field-error" id={`${id}-err`} role="alert">
          {mine.map((e) => `${e.message} (${e.code})`).join(' ')}
        </p>
      )}
    </div>
  );
}
