"use client";
// The scope part of the token form: what the token may do, and on which of the tenant's data
// classes (GET .../classes; `default` is always one of them).
import { useQuery } from "@tanstack/react-query";
import type { z } from "zod";
import type { ZDataClassList } from "@/lib/contracts/classes";
import { api, tenantPath } from "../api";
import { qk } from "../query-keys";
import { ErrorState, LoadingBlock } from "../ui/state";
import type { OperationChoice, ScopeDraft } from "./token-scope";

type DataClassList = z.infer<typeof ZDataClassList>;

const OPERATION_LABEL: Record<OperationChoice, string> = { both: "Encrypt and decrypt", encrypt: "Encrypt only", decrypt: "Decrypt only" };

interface Props {
  slug: string;
  value: ScopeDraft;
  onChange: (next: ScopeDraft) => void;
  error: string | null;
}

export function TokenScopeFields({ slug, value, onChange, error }: Props) {
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
        {value.classMode === "chosen" ? <ClassChecklist slug={slug} value={value} onChange={onChange} error={error} /> : null}
      </fieldset>
    </div>
  );
}

function ClassChecklist({ slug, value, onChange, error }: Props) {
  const classes = useQuery({ queryKey: qk.classes(slug), queryFn: ({ signal }) => api<DataClassList>(tenantPath(slug, "/classes"), { signal }) });
  if (classes.isPending) return <LoadingBlock label="Loading the tenant's classes" lines={2} />;
  if (classes.isError) return <ErrorState error={classes.error} onRetry={() => void classes.refetch()} title="Could not load the tenant's classes" />;
  const names = [...new Set(["default", ...classes.data.classes.map((c) => c.name)])];
  const toggle = (name: string) => {
    const chosen = value.classes.includes(name) ? value.classes.filter((n) => n !== name) : [...value.classes, name];
    onChange({ ...value, classes: names.filter((n) => chosen.includes(n)) });
  };
  return (
    <div className="stack" role="group" aria-label="Classes the token may use">
      {names.map((n) => (
        <label key={n} className="row">
          <input type="checkbox" checked={value.classes.includes(n)} onChange={() => toggle(n)} aria-label={`class ${n}`} /> <code>{n}</code>
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
