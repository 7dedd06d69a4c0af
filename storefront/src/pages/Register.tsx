import { useState } from 'preact/hooks';
import { useMutation } from '@urql/preact';
import { RegisterDocument, type Role } from '../__generated__/graphql.js';
import { useApp } from '../app.js';
import { Field, FormErrors, type UserErrors } from '../components/Field.js';
import { navigate } from '../router.js';

const FIELDS = ['name', 'email', 'password', 'role'];

export function Register() {
  const { signIn } = useApp();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('CUSTOMER');
  const [errors, setErrors] = useState<UserErrors>([]);
  const [state, register] = useMutation(RegisterDocument);
  const submit = async (e: Event) => {
    e.preventDefault();
    const result = await register({ input: { name, email, password, role } });
    const payload = result.data?.register;
    if (!payload) return;
    setErrors(payload.userErrors);
    if (payload.token && payload.user) {
      signIn({ token: payload.token, user: payload.user });
      navigate(payload.user.role === 'SELLER' ? '/sell' : '/');
    }
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
