import { useState } from 'preact/hooks';
import { useMutation } from '@urql/preact';
import { LoginDocument } from '../__generated__/graphql.js';
import { useApp } from '../app.js';
import { Field, FormErrors } from '../components/Field.js';
import { useSessionStart } from '../hooks.js';

export function SignIn() {
  const { signInMessage } = useApp();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const { errors, start } = useSessionStart();
  const [state, login] = useMutation(LoginDocument);
  const submit = async (e: Event) => {
    e.preventDefault();
    start((await login({ email, password })).data?.login);
  };
  return (
    <>
      <h1>Sign in</h1>
      {signInMessage && (
        <p class="banner warning" role="alert">
          {signInMessage}
        </p>
      )}
      <form onSubmit={(e) => void submit(e)}>
        <FormErrors errors={errors} fields={['email', 'password']} />
        <Field label="Email" name="email" errors={errors}>
          {(a) => <input {...a} type="email" autoComplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />}
        </Field>
        <Field label="Password" name="password" errors={errors}>
          {(a) => <input {...a} type="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />}
        </Field>
        <button type="submit" disabled={state.fetching}>
          Sign in
        </button>
      </form>
      <p>
        No account yet? <a href="#/register">Register</a>
      </p>
    </>
  );
}
