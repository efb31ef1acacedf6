"use client";
// The tenant's data classes. A tenant with only `default` (and no secondary key) sees a small
// heading with the ways to add a class or a secondary key: the key card above already is that
// class. Otherwise one card per class, `default` first.
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { api, tenantPath } from "../api";
import { qk } from "../query-keys";
import { Button } from "../ui/button";
import { ErrorState, LoadingBlock } from "../ui/state";
import { AddDataClass } from "./add-data-class";
import { ClassCard, connectKeyHref, type ClassPermissions } from "./class-card";
import type { DataClassInfo, DataClassList } from "./types";

export const CLASSES_POLL_MS = 2_000;

/** `default` first, then by name: the order of the cards, the wizard's selector and the token form. */
export function byClassOrder(a: DataClassInfo, b: DataClassInfo): number {
  if (a.name === "default") return -1;
  if (b.name === "default") return 1;
  return a.name.localeCompare(b.name);
}

export function useDataClasses(slug: string, opts: { poll?: boolean } = {}) {
  return useQuery({
    queryKey: qk.classes(slug),
    queryFn: ({ signal }) => api<DataClassList>(tenantPath(slug, "/classes"), { signal }),
    select: (l) => [...l.classes].sort(byClassOrder),
    refetchInterval: opts.poll === false ? false : CLASSES_POLL_MS,
  });
}

export function DataClasses({ slug, can }: { slug: string; can: ClassPermissions }) {
  const q = useDataClasses(slug);
  const [adding, setAdding] = useState(false);
  const classes = q.data ?? [];
  const onlyDefault = classes.length <= 1 && !classes[0]?.secondary;
  const defaultClass = classes.find((c) => c.name === "default");
  return (
    <section aria-labelledby="data-classes-title" className="stack" data-testid="data-classes" data-count={classes.length}>
      <div className="card-title">
        <h2 id="data-classes-title" style={{ margin: 0 }}>
          Data classes
        </h2>
        <div className="row">
          {onlyDefault && can.connectKey && defaultClass?.key ? (
            <Link className="btn btn-ghost btn-sm" href={connectKeyHref(slug, "default", "secondary")}>
              Add secondary key
            </Link>
          ) : null}
          {can.create && q.isSuccess ? (
            <Button variant="ghost" size="sm" aria-expanded={adding} aria-controls="add-data-class" onClick={() => setAdding((a) => !a)}>
              New data class…
            </Button>
          ) : null}
        </div>
      </div>
      {adding && can.create ? (
        <div id="add-data-class">
          <AddDataClass slug={slug} existing={classes.map((c) => c.name)} canConnectKey={can.connectKey} />
        </div>
      ) : null}
      {q.isPending ? <LoadingBlock label="Loading data classes" lines={1} /> : null}
      {q.isError ? <ErrorState error={q.error} onRetry={() => void q.refetch()} title="Could not load the data classes" /> : null}
      {q.isSuccess && !onlyDefault ? (
        <div className="grid-2" data-testid="class-cards">
          {classes.map((c) => (
            <ClassCard key={c.name} slug={slug} dataClass={c} can={can} />
          ))}
        </div>
      ) : null}
    </section>
  );
}
