"use client";
// Step 0 of the connect wizard: which class's key, and which of its keys (the primary, or a
// secondary that takes over when the primary's KMS is unavailable). Shown once the tenant has
// more than the default class, or when the wizard was opened for a class or a secondary.
import type { DataClassInfo, KeyRole } from "./types";

export interface ConnectTarget {
  dataClass: string;
  role: KeyRole;
}

export function ConnectTargetPicker({ classes, target, onChange }: { classes: DataClassInfo[]; target: ConnectTarget; onChange: (t: ConnectTarget) => void }) {
  const current = classes.find((c) => c.name === target.dataClass);
  const names = classes.some((c) => c.name === target.dataClass) ? classes.map((c) => c.name) : [target.dataClass, ...classes.map((c) => c.name)];
  const noPrimary = current !== undefined && !current.key;
  return (
    <fieldset data-testid="connect-target">
      <legend>Which key?</legend>
      <div className="row" style={{ flexWrap: "wrap", alignItems: "flex-start" }}>
        <div className="field">
          <label className="label" htmlFor="connect-data-class">
            Data class
          </label>
          <select
            id="connect-data-class"
            className="select"
            value={target.dataClass}
            onChange={(e) => {
              const next = classes.find((c) => c.name === e.target.value);
              // A class without a primary cannot take a secondary yet.
              onChange({ dataClass: e.target.value, role: next && !next.key ? "primary" : target.role });
            }}
          >
            {names.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </div>
        <div className="choice-group" role="radiogroup" aria-label="Role of the key">
          <label className="choice">
            <input type="radio" name="role" value="primary" checked={target.role === "primary"} onChange={() => onChange({ ...target, role: "primary" })} />
            Primary key
          </label>
          <label className="choice">
            <input
              type="radio"
              name="role"
              value="secondary"
              checked={target.role === "secondary"}
              disabled={noPrimary}
              aria-describedby={noPrimary ? "secondary-needs-primary" : undefined}
              onChange={() => onChange({ ...target, role: "secondary" })}
            />
            Secondary key (takes over in a KMS outage)
          </label>
        </div>
      </div>
      {noPrimary ? (
        <p className="hint" id="secondary-needs-primary">
          Class {target.dataClass} has no primary key yet: connect it first, then a secondary.
        </p>
      ) : target.role === "secondary" ? (
        <p className="hint">
          Every data key of {target.dataClass} is also wrapped under this key (a re-wrap job shows its progress on the key health page). When the primary&apos;s KMS is unavailable
          the broker unwraps with it. Revoking either key locks the class.
        </p>
      ) : current?.key ? (
        <p className="hint">Replacing the primary key of {target.dataClass} re-wraps its data keys under the new one.</p>
      ) : null}
    </fieldset>
  );
}
