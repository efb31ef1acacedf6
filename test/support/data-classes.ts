// Data classes for data-path tests, through the class API (lib/http/routes/classes.ts) and the
// kill switch: a class with its primary key connected (validated like the tenant's key), or
// without a key (pending); one class locked or unlocked.
import type { KmsProviderName } from "@/lib/kms/types";
import type { Harness } from "./broker-harness";

/** Adds class `name` to the tenant with `keyRef` as its primary key (active), or with no key (pending). Returns the class id. */
export async function addClass(h: Harness, slug: string, name: string, provider: KmsProviderName | null, keyRef: string | null): Promise<string> {
  const c = await h.api.admin("POST", `/api/v1/tenants/${slug}/classes`, { name });
  if (c.status !== 201) throw new Error(`create class ${name}: ${c.status} ${JSON.stringify(c.body)}`);
  if (provider && keyRef) {
    const k = await h.api.admin("PUT", `/api/v1/tenants/${slug}/classes/${name}/key`, { provider, keyId: keyRef });
    if (k.status !== 200) throw new Error(`connect ${name}'s key: ${k.status} ${JSON.stringify(k.body)}`);
  }
  const t = (await h.runtime.ctx.registry.load({ slug }))!;
  const cls = t.classes.get(name);
  if (!cls) throw new Error(`class ${name} is not in the tenant's view`);
  return cls.id;
}

/** Locks one class with the kill switch (reason `kill_switch: <reason>`), or unlocks it (its key re-validated). */
export async function setClassState(h: Harness, slug: string, name: string, state: "locked" | "active", reason = "test"): Promise<void> {
  const r = state === "locked" ? await h.api.admin("POST", `/api/v1/tenants/${slug}/lock`, { reason, dataClass: name }) : await h.api.admin("POST", `/api/v1/tenants/${slug}/unlock`, { dataClass: name });
  if (r.status !== 200) throw new Error(`${state === "locked" ? "lock" : "unlock"} ${name}: ${r.status} ${JSON.stringify(r.body)}`);
}
