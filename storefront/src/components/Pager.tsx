import { useCallback, useMemo, useState } from 'preact/hooks';

/** Cursor pages: the cursors of every page up to this one, so going back needs no backward cursor. */
export interface CursorPages {
  /** The cursor this page starts after (null: the first page). */
  after: string | null;
  /** 1 for the first page. */
  page: number;
  next(endCursor: string | null | undefined): void;
  previous(): void;
  /** Back to the first page (the filter or sort changed). */
  reset(): void;
}

export function useCursorPages(): CursorPages {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const next = useCallback((endCursor: string | null | undefined) => endCursor && setCursors((c) => [...c, endCursor]), []);
  const previous = useCallback(() => setCursors((c) => (c.length > 1 ? c.slice(0, -1) : c)), []);
  const reset = useCallback(() => setCursors([null]), []);
  return useMemo(() => ({ after: cursors[cursors.length - 1] ?? null, page: cursors.length, next, previous, reset }), [cursors, next, previous, reset]);
}

/** "Previous page" and "Next page" for a connection's pageInfo. */
export function Pager({ pages, pageInfo }: { pages: CursorPages; pageInfo: { hasNextPage: boolean; endCursor?: string | null } | undefined }) {
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={pages.page === 1} onClick={() => pages.previous()}>
        Previous page
      </button>
      <button type="button" disabled={!pageInfo?.hasNextPage} onClick={() => pages.next(pageInfo?.endCursor)}>
        Next page
      </button>
    </nav>
  );
}
