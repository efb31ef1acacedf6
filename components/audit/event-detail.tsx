"use client";
import type { AuditEvent } from "./types";
import { fmtTime } from "../format";
import { Badge } from "../ui/badge";
import { Button } from "../ui/button";
import { CopyButton } from "../ui/copy-button";
import { Dialog } from "../ui/dialog";
import { outcomeTone } from "./outcomes";

// Every field of the record, in the order the hash covers them, then the chain links.
const FIELDS: Array<[keyof AuditEvent, string]> = [
  ["seq", "Sequence"],
  ["id", "Row id"],
  ["time", "Time (UTC)"],
  ["tenantId", "Tenant id"],
  ["actorType", "Actor type"],
  ["actorId", "Actor id"],
  ["actorName", "Actor name"],
  ["action", "Action"],
  ["outcome", "Outcome"],
  ["provider", "Provider"],
  ["keyRef", "Key"],
  ["keyVersion", "Key version"],
  ["dekId", "Data key id"],
  ["cacheHit", "Cache hit"],
  ["latencyMs", "Latency (ms)"],
  ["bytes", "Bytes"],
  ["purpose", "Purpose"],
  ["requestId", "Request id"],
  ["reason", "Reason"],
  ["prevHash", "Previous hash"],
  ["hash", "Hash"],
];

function show(v: unknown): string {
  if (v === null || v === undefined) return "—";
  if (typeof v === "boolean") return v ? "yes" : "no";
  return String(v);
}

export function AuditEventDetail({ event, onClose }: { event: AuditEvent | null; onClose: () => void }) {
  return (
    <Dialog
      open={event !== null}
      wide
      title={event ? `Audit event #${event.seq}` : "Audit event"}
      onClose={onClose}
      actions={
        <Button variant="secondary" onClick={onClose}>
          Close
        </Button>
      }
    >
      {event ? (
        <div className="stack" data-testid="audit-detail">
          <p className="muted">
            {fmtTime(event.time)} · <code>{event.action}</code> <Badge tone={outcomeTone(event.outcome)}>{event.outcome}</Badge>
          </p>
          <dl className="kv">
            {FIELDS.map(([k, label]) => (
              <div key={k} style={{ display: "contents" }}>
                <dt>{label}</dt>
                <dd>{k === "hash" || k === "prevHash" || k === "keyRef" || k === "requestId" ? <code data-testid={`detail-${k}`}>{show(event[k])}</code> : show(event[k])}</dd>
              </div>
            ))}
          </dl>
          <div>
            <div className="card-title">
              <h3 style={{ margin: 0 }}>Detail</h3>
              <CopyButton text={JSON.stringify(event, null, 2)} label="Copy event JSON" />
            </div>
            <pre className="json" tabIndex={0} aria-label="Detail JSON" data-testid="detail-json">
              {event.detail ? JSON.stringify(event.detail, null, 2) : "null"}
            </pre>
          </div>
        </div>
      ) : null}
    </Dialog>
  );
}
