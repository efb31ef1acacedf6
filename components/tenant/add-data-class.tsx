"use client";
// "Add data class": the name is checked as you type with the rule ZDataClassName is built from
// (lib/contracts/class-name.ts); the API validates it again and its message is shown as is.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { DATA_CLASS_NAME_MAX, DATA_CLASS_NAME_RULE, isDataClassName } from "@/lib/contracts/class-name";
import { api, ApiError, tenantPath } from "../api";
import { useSensitiveAction } from "../reauth";
import { Button } from "../ui/button";
import { Field } from "../ui/input";
import { Alert } from "../ui/state";
import { connectKeyHref } from "./class-card";
import { refreshClasses } from "./class-refresh";
import type { DataClassCreated } from "./types";

/** Why `name` cannot be a new class (the rules of ZCreateDataClassRequest), or null when it can. */
function nameProblem(name: string, existing: string[]): string | null {
  if (name.length === 0) return "Enter a name.";
  if (!isDataClassName(name)) return `Use ${DATA_CLASS_NAME_RULE}.`;
  if (name === "default") return "`default` always exists.";
  if (existing.includes(name)) return `The tenant already has a class ${name}.`;
  return null;
}

/** The API's own words for a refused name: the invalid_request issue of `name`, or the message. */
function refusal(e: unknown): string | null {
  if (!e || (e instanceof ApiError && e.code === "reauth_required")) return null;
  if (e instanceof ApiError) return e.body.issues?.find((i) => i.path === "name")?.message ?? e.message;
  return e instanceof Error ? e.message : String(e);
}

export function AddDataClass({ slug, existing, canConnectKey }: { slug: string; existing: string[]; canConnectKey: boolean }) {
  const qc = useQueryClient();
  const sensitive = useSensitiveAction();
  const [name, setName] = useState("");
  const [touched, setTouched] = useState(false);
  const create = useMutation({
    mutationFn: (n: string) => sensitive(() => api<DataClassCreated>(tenantPath(slug, "/classes"), { method: "POST", body: { name: n } })),
    onSuccess: () => {
      setName("");
      setTouched(false);
      return refreshClasses(qc, slug);
    },
  });
  const trimmed = name.trim();
  const problem = nameProblem(trimmed, existing);
  const shownProblem = touched && trimmed ? problem : null;
  const created = create.data?.dataClass.name;

  return (
    <form
      className="stack"
      style={{ gap: "0.5rem" }}
      aria-label="Add data class"
      onSubmit={(e) => {
        e.preventDefault();
        setTouched(true);
        if (!problem) create.mutate(trimmed);
      }}
    >
      <div className="row" style={{ alignItems: "flex-end", flexWrap: "wrap" }}>
        <Field
          label="New data class name"
          name="dataClassName"
          value={name}
          maxLength={DATA_CLASS_NAME_MAX}
          spellCheck={false}
          autoComplete="off"
          className="mono"
          placeholder="e.g. pii"
          onChange={(e) => {
            setName(e.target.value);
            setTouched(true);
            create.reset();
          }}
          error={shownProblem ?? refusal(create.error)}
          hint={`Its own key, data keys and lock. Use ${DATA_CLASS_NAME_RULE}.`}
        />
        <Button type="submit" loading={create.isPending} disabled={touched && problem !== null}>
          Add data class
        </Button>
      </div>
      {created ? (
        <Alert tone="success">
          Class <code>{created}</code> added. It serves nothing until it has a key
          {canConnectKey ? (
            <>
              : <Link href={connectKeyHref(slug, created)}>connect a key to {created}</Link>
            </>
          ) : null}
          .
        </Alert>
      ) : null}
    </form>
  );
}
