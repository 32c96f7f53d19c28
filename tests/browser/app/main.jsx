// A small app built on Nile's own React forms, unmodified: PasswordResetRequestForm on
// /forgot-password and PasswordResetForm on /reset-password (where the emailed link lands),
// talking to @niledatabase/server's route handlers under /api (server.mjs). What the forms
// report through their onSuccess and onError callbacks is shown in #status, which the tests
// read.
import { PasswordResetForm, PasswordResetRequestForm } from '@niledatabase/react';
import { StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';

function Status({ status }) {
  if (!status) {
    return null;
  }
  return (
    <p id="status" data-state={status.state} role="status">
      {status.text}
    </p>
  );
}

function ForgotPassword() {
  const [status, setStatus] = useState(null);
  return (
    <>
      <PasswordResetRequestForm
        callbackUrl="/reset-password"
        onSuccess={() => setStatus({ state: 'sent', text: 'Check your email for a reset link.' })}
        onError={(error) => setStatus({ state: 'error', text: error.message })}
      />
      <Status status={status} />
    </>
  );
}

function ResetPassword() {
  // The link's GET answers an invalid or spent token with ?error=... on the callback URL.
  const linkError = new URLSearchParams(window.location.search).get('error');
  const [status, setStatus] = useState(linkError ? { state: 'link-error', text: linkError } : null);
  return (
    <>
      <PasswordResetForm
        onSuccess={(response) =>
          setStatus({ state: 'changed', text: `Password changed (HTTP ${response?.status}).` })
        }
        onError={(error) => setStatus({ state: 'error', text: error.message })}
      />
      <Status status={status} />
    </>
  );
}

const pages = {
  '/forgot-password': ForgotPassword,
  '/reset-password': ResetPassword,
};

function App() {
  const Page = pages[window.location.pathname];
  return (
    <main className="mx-auto max-w-md p-6">
      {Page ? <Page /> : <p id="status" data-state="not-found">No such page</p>}
    </main>
  );
}

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
