"use client";
// The scope part of the token form: what the token may do, and on which data classes. The
// tenant's classes are offered as checkboxes; where the broker cannot list them (an older broker
// without GET .../classes), the names are typed, comma-separated, and checked with the same rule.
import { useQuery } from "@tanstack/react-query";
import type { z } from "zod";
import type { ZDataClassList } from "@/lib/contracts/classes";
import { DATA_CLASS_NAME_RULE } from "@/lib/contracts/class-name";
import { api, tenantPath } from "../api";
import { qk } from "../query-keys";
import { Field } from "../ui/input";
import { classList, type OperationChoice, type ScopeDraft } from "./token-scope";

const OPERATION_LABEL: Record<OperationChoice, string> = { both: "Encrypt and decrypt", encrypt: "Encrypt only", decrypt: "Decrypt only" };

interface Props {
  slug: string;
  value: ScopeDraft;
  onChange: (next: ScopeDraft) => void;
  error: string | null;
}

export function TokenScopeFields({ slug, value, onChange, error }: Props) {
  const classes = useQuery({
    queryKey: qk.classes(slug),
    queryFn: ({ signal }) => api<z.infer<typeof ZDataClassList>>(tenantPath(slug, "/classes"), { signal }),
    retry: false,
  });
  const names = classes.data ? [...new Set(["default", ...classes.data.classes.map((c) => c.name)])] : null;
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
        {value.classMode !== "chosen" ? null : names ? (
          <ClassChecklist names={names} value={value} onChange={onChange} error={error} />
        ) : (
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
        )}
      </fieldset>
    </div>
  );
}

function ClassChecklist({ names, value, onChange, error }: { names: string[]; value: ScopeDraft; onChange: (next: ScopeDraft) => void; error: string | null }) {
  const chosen = new Set(classList(value.classes));
  const toggle = (name: string) => {
    if (chosen.has(name)) chosen.delete(name);
    else chosen.add(name);
    onChange({ ...value, classes: [...chosen].join(", ") });
  };
  return (
    <div className="stack" role="group" aria-label="Classes the token may use">
      {names.map((n) => (
        <label key={n} className="row">
          <input type="checkbox" checked={chosen.has(n)} onChange={() => toggle(n)} aria-label={`class ${n}`} /> <code>{n}</code>
        </label>
      ))}
      {error ? (
        <span className="field-error" role="alert">
          {error}
        </span>
      ) : null}
    </div>
  );
}
