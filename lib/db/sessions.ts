// The connection-level types every database user sees (re-exported by database.ts).
export type Row = Record<string, unknown>;

export interface SqlExecutor {
  query<T extends Row = Row>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs a script of several statements, without parameters. */
  exec(sql: string): Promise<void>;
}

/** A connection held by one user until released (the audit writer, the webhook dispatcher's locks). */
export interface ReservedSession extends SqlExecutor {
  /** Gives the connection up; it is closed rather than reused, so no session setting leaks into the pool. */
  release(): void;
  /** True once the connection broke (server restart, network): every further query fails with DatabaseUnavailableError; reserve a new one. */
  readonly lost: boolean;
}

export interface ReserveSessionOptions {
  asyncCommit?: boolean;
  /** Told once when the connection breaks, so a holder of session state (advisory locks) knows it is gone. */
  onLost?: (err: unknown) => void;
}

export interface ListenGapHandlers {
  onDisconnect?: () => void;
  onReconnect?: () => void;
}
