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
import { AddDataClass } from "./add-data-class";
import { ClassCard, connectKeyHref, type ClassPermissions } from "./class-card";
import type { ClassHealth, DataClassInfo, DataClassList } from "./types";

/** `default` first, then by name: the order of the cards, the wizard's selector and the token form. */
export function byClassOrder(a: DataClassInfo, b: DataClassInfo): number {
  if (a.name === "default") return -1;
  if (b.name === "default") return 1;
  return a.name.localeCompare(b.name);
}

/** GET /classes, for the connect wizard's class selector (the tenant page reads the classes from its health). */
export function useDataClasses(slug: string) {
  return useQuery({
    queryKey: qk.classes(slug),
    queryFn: ({ signal }) => api<DataClassList>(tenantPath(slug, "/classes"), { signal }),
    select: (l) => [...l.classes].sort(byClassOrder),
  });
}

/** The classes come with the tenant's health (polled by the overview), so the cards and the key card above never disagree. */
export function DataClasses({ slug, classes, can }: { slug: string; classes: ClassHealth[]; can: ClassPermissions }) {
  const [adding, setAdding] = useState(false);
  const sorted = [...classes].sort(byClassOrder);
  const onlyDefault = sorted.length <= 1 && !sorted[0]?.secondary;
  const defaultClass = sorted.find((c) => c.name === "default");
  return (
    <section aria-labelledby="data-classes-title" className="stack" data-testid="data-classes" data-count={sorted.length}>
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
          {can.create ? (
            <Button variant="ghost" size="sm" aria-expanded={adding} aria-controls="add-data-class" onClick={() => setAdding((a) => !a)}>
              New data class…
            </Button>
          ) : null}
        </div>
      </div>
      {adding && can.create ? (
        <div id="add-data-class">
          <AddDataClass slug={slug} existing={sorted.map((c) => c.name)} canConnectKey={can.connectKey} />
        </div>
      ) : null}
      {!onlyDefault ? (
        <div className="grid-2" data-testid="class-cards">
          {sorted.map((c) => (
            <ClassCard key={c.name} slug={slug} dataClass={c} can={can} />
          ))}
        </div>
      ) : null}
    </section>
  );
}
