"use client";
// The scope part of the token form: what the token may do, and on which data classes.
import { DATA_CLASS_NAME_RULE } from "@/lib/contracts/class-name";
import { Field } from "../ui/input";
import type { OperationChoice, ScopeDraft } from "./token-scope";

const OPERATION_LABEL: Record<OperationChoice, string> = { both: "Encrypt and decrypt", encrypt: "Encrypt only", decrypt: "Decrypt only" };

export function TokenScopeFields({ value, onChange, error }: { value: ScopeDraft; onChange: (next: ScopeDraft) => void; error: string | null }) {
  return (
    <div className="stack">
      <fieldset>
        <legend>What may it do?</legend>
        <div className="choice-group">
          {(["both", "encrypt", "decrypt"] as const).map((op) => (
            <label key={op} className="choice">
              <input type="radio" name="token-operations" value={op} checked={value.operations === op} onChange={() => onChange({ ...value, operations: op })} />
              {OPERATION_LABEL[op]}
            </label>
          ))}
        </div>
      </fieldset>
      <fieldset>
        <legend>Which data classes?</legend>
        <div className="choice-group">
          <label className="choice">
            <input type="radio" name="token-classes" value="all" checked={value.classMode === "all"} onChange={() => onChange({ ...value, classMode: "all" })} />
            All classes
          </label>
          <label className="choice">
            <input type="radio" name="token-classes" value="chosen" checked={value.classMode === "chosen"} onChange={() => onChange({ ...value, classMode: "chosen" })} />
            Only these
          </label>
        </div>
        {value.classMode === "chosen" ? (
          <Field
            label="Class names"
            value={value.classes}
            onChange={(e) => onChange({ ...value, classes: e.target.value })}
            placeholder="e.g. pii, billing"
            spellCheck={false}
            autoComplete="off"
            hint={`Comma-separated; each one of this tenant's classes (default included): ${DATA_CLASS_NAME_RULE}.`}
            error={error}
          />
        ) : null}
      </fieldset>
    </div>
  );
}
