"use client";
import type { ReactNode } from "react";
import { ApiError } from "../api";
import { Button } from "./button";

export function Skeleton({ width = "100%", height = "1rem" }: { width?: string; height?: string }) {
  return <div className="skeleton" style={{ width, height }} aria-hidden="true" />;
}

export function LoadingBlock({ label = "Loading", lines = 3 }: { label?: string; lines?: number }) {
  return (
    <div role="status" aria-live="polite" className="stack" style={{ gap: "0.5rem" }}>
      <span className="sr-only">{label}…</span>
      {Array.from({ length: lines }, (_, i) => (
        <Skeleton key={i} width={`${90 - i * 12}%`} height="1.1rem" />
      ))}
    </div>
  );
}

export function ErrorState({ error, onRetry, title = "Something went wrong" }: { error: unknown; onRetry?: () => void; title?: string }) {
  const message = error instanceof ApiError ? error.message : error instanceof Error ? error.message : String(error);
  const code = error instanceof ApiError ? error.code : null;
  return (
    <div className="alert alert-error" role="alert">
      <strong>{title}</strong>
      <p style={{ margin: "0.25rem 0" }}>
        {message}
        {code ? <span className="muted"> ({code})</span> : null}
      </p>
      {onRetry ? (
        <Button variant="secondary" size="sm" onClick={onRetry}>
          Try again
        </Button>
      ) : null}
    </div>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p style={{ fontWeight: 600, color: "var(--text)" }}>{title}</p>
      {children}
    </div>
  );
}

export function Alert({ tone, children }: { tone: "success" | "error" | "info" | "warning"; children: ReactNode }) {
  return (
    <div className={`alert alert-${tone}`} role={tone === "error" ? "alert" : "status"}>
      {children}
    </div>
  );
}
