export interface Problem {
  code: string;
  message: string;
}

/** The connection banner (while the socket is down) and the banner of the last error, with its code. */
export function Banners({ offline, problem, dismiss }: { offline: boolean; problem: Problem | undefined; dismiss: () => void }) {
  return (
    <div class="banners">
      <div role="status">{offline && <p class="banner offline">Connection lost. Reconnecting… Live updates resume by themselves.</p>}</div>
      {problem && (
        <div class="banner error" role="alert">
          <p>
            <strong>Error {problem.code}:</strong> {problem.message}
          </p>
          <button type="button" onClick={dismiss}>
            Dismiss
          </button>
        </div>
      )}
    </div>
  );
}
