// GraphiQL for orgtree's /graphql/v2. The page signs in the way the SDKs
// do: the user pool id and secret typed here are exchanged for an access
// token with the accessToken query (kept in this tab's sessionStorage, the
// secret itself is not kept), and every request then carries
// "Authorization: Bearer <token>" and "x-authing-userpool-id". The schema
// loads before signing in: introspection needs no token.
import React, { useCallback, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';
import './page.css';

// The endpoint, relative to this page (/graphiql/), so that a server
// mounted under a prefix works too.
const endpoint = new URL('../graphql/v2', window.location.href).toString();
const storageKey = 'orgtree.graphiql.session';

const defaultQuery = `# Sign in above with the user pool id and secret orgtree serve printed,
# then run this query (Ctrl-Enter). The Docs panel lists every field.
query Orgs {
  orgs(page: 1, limit: 10) {
    totalCount
    list {
      id
      tenantId
      rootNode { id name code }
    }
  }
}
`;

async function post(body, session) {
  const headers = {
    'content-type': 'application/json',
    accept: 'application/graphql-response+json, application/json'
  };
  if (session) {
    headers.authorization = `Bearer ${session.token}`;
    headers['x-authing-userpool-id'] = session.pool;
  }
  const res = await fetch(endpoint, { method: 'POST', headers, body: JSON.stringify(body) });
  return res.json();
}

function loadSession() {
  try {
    const s = JSON.parse(window.sessionStorage.getItem(storageKey) || 'null');
    return s && s.token && s.pool && s.exp * 1000 > Date.now() ? s : null;
  } catch (_) {
    return null;
  }
}

function errorText(result) {
  const e = result && result.errors && result.errors[0];
  if (!e) {
    return 'no token in the answer';
  }
  return typeof e.message === 'string' ? e.message : JSON.stringify(e.message);
}

function SignIn({ session, onSession }) {
  const [pool, setPool] = useState(session ? session.pool : '');
  const [secret, setSecret] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async e => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const result = await post({
        query: 'query accessToken($userPoolId: String!, $secret: String!) { accessToken(userPoolId: $userPoolId, secret: $secret) { accessToken exp } }',
        variables: { userPoolId: pool.trim(), secret }
      });
      const t = result && result.data && result.data.accessToken;
      if (!t || !t.accessToken) {
        throw new Error(errorText(result));
      }
      setSecret('');
      onSession({ pool: pool.trim(), token: t.accessToken, exp: t.exp });
    } catch (err) {
      setError(String(err.message || err));
    } finally {
      setBusy(false);
    }
  };
  if (session) {
    return (
      <form className="orgtree-signin" onSubmit={e => { e.preventDefault(); onSession(null); }}>
        <span className="orgtree-title">orgtree</span>
        <span>signed in to user pool <code>{session.pool}</code></span>
        <button type="submit">Sign out</button>
      </form>
    );
  }
  return (
    <form className="orgtree-signin" onSubmit={submit}>
      <span className="orgtree-title">orgtree</span>
      <label>User pool ID <input name="userPoolId" value={pool} onChange={e => setPool(e.target.value)} autoComplete="username" required /></label>
      <label>Secret <input name="secret" type="password" value={secret} onChange={e => setSecret(e.target.value)} autoComplete="current-password" required /></label>
      <button type="submit" disabled={busy}>Sign in</button>
      {error && <span className="orgtree-error" role="alert">{error}</span>}
    </form>
  );
}

function App() {
  const [session, setSession] = useState(loadSession);
  const onSession = useCallback(s => {
    if (s) {
      window.sessionStorage.setItem(storageKey, JSON.stringify(s));
    } else {
      window.sessionStorage.removeItem(storageKey);
    }
    setSession(s);
  }, []);
  const fetcher = useCallback(params => post(params, session), [session]);
  return (
    <div className="orgtree-page">
      <SignIn session={session} onSession={onSession} />
      <div className="orgtree-graphiql">
        <GraphiQL fetcher={fetcher} defaultQuery={defaultQuery} />
      </div>
    </div>
  );
}

createRoot(document.getElementById('root')).render(<App />);
