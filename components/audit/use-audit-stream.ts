"use client";
// The live feed: an EventSource on GET /audit/stream (cookie auth, `event: audit`, `id: seq`).
// When the stream cannot be kept open (a proxy that buffers, the feed turned off, repeated
// errors) the dashboard falls back to polling the list API instead of going silently stale.
import { useEffect, useRef, useState } from "react";
import type { AuditEvent } from "./types";
import { tenantPath } from "../api";

export type StreamMode = "connecting" | "live" | "reconnecting" | "polling";

/** Consecutive errors before giving up on the stream (EventSource retries by itself in between). */
const MAX_STREAM_ERRORS = 3;

export function useAuditStream(slug: string, handlers: { onEvent: (ev: AuditEvent) => void; onReconnect: () => void }): StreamMode {
  const [mode, setMode] = useState<StreamMode>("connecting");
  // Handlers change every render; the connection must not.
  const ref = useRef(handlers);
  ref.current = handlers;
  useEffect(() => {
    if (typeof EventSource === "undefined") {
      setMode("polling");
      return;
    }
    const es = new EventSource(tenantPath(slug, "/audit/stream"));
    let errors = 0;
    let hadError = false;
    es.onopen = () => {
      errors = 0;
      setMode("live");
      // Events written while the stream was down were never pushed: catch up from the list API.
      if (hadError) ref.current.onReconnect();
    };
    es.addEventListener("audit", (m) => {
      try {
        ref.current.onEvent(JSON.parse((m as MessageEvent<string>).data) as AuditEvent);
      } catch {
        /* a malformed frame is skipped; the next poll or reconnect catches up */
      }
    });
    es.onerror = () => {
      errors += 1;
      hadError = true;
      if (es.readyState === EventSource.CLOSED || errors >= MAX_STREAM_ERRORS) {
        es.close();
        setMode("polling");
      } else setMode("reconnecting");
    };
    return () => es.close();
  }, [slug]);
  return mode;
}
