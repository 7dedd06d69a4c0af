import { useState } from 'preact/hooks';
import { useMutation } from '@urql/preact';
import { RegisterDocument, type Role } from '../__generated__/graphql.js';
import { Field, FormErrors } from '../components/Field.js';
import { useSessionStart } from '../hooks.js';

const FIELDS = ['name', 'email', 'password', 'role', 'timeZone'];

/** The browser's IANA time zone (a seller's sales are counted by day in their zone), and the others to choose from. */
const BROWSER_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
const ZONES = [...new Set(['UTC', BROWSER_ZONE, ...(typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [])])].sort();

export function Register() {
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('CUSTOMER');
  const [timeZone, setTimeZone] = useState(BROWSER_ZONE);
  const { errors, start } = useSessionStart();
  const [state, register] = useMutation(RegisterDocument);
  const submit = async (e: Event) => {
    e.preventDefault();
    start((await register({ input: { name, email, password, role, timeZone } })).data?.register);
  };
  return (
    <>
      <h1>Register</h1>
      <form onSubmit={(e) => void submit(e)}>
        <FormErrors errors={errors} fields={FIELDS} />
        <Field label="Name" name="name" errors={errors}>
          {(a) => <input {...a} autoComplete="name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />}
        </Field>
        <Field label="Email" name="email" errors={errors}>
          {(a) => <input {...a} type="email" autoComplete="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />}
        </Field>
        <Field label="Password" name="password" errors={errors} hint="At least 8 characters.">
          {(a) => <input {...a} type="password" autoComplete="new-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />}
        </Field>
        <Field label="Time zone" name="timeZone" errors={errors} hint="A seller's sales are counted by day in it.">
          {(a) => (
            <select {...a} value={timeZone} onChange={(e) => setTimeZone(e.currentTarget.value)}>
              {ZONES.map((z) => (
                <option key={z} value={z}>
                  {z}
                </option>
              ))}
            </select>
          )}
        </Field>
        <fieldset>
          <legend>I want to</legend>
          <label>
            <input type="radio" name="role" value="CUSTOMER" checked={role === 'CUSTOMER'} onChange={() => setRole('CUSTOMER')} /> shop (customer account)
          </label>
          <label>
            <input type="radio" name="role" value="SELLER" checked={role === 'SELLER'} onChange={() => setRole('SELLER')} /> sell (seller account)
          </label>
        </fieldset>
        <button type="submit" disabled={state.fetching}>
          Create account
        </button>
      </form>
      <p>
        Already registered? <a href="#/signin">Sign in</a>
      </p>
    </>
  );
}
