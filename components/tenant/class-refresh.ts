// After a change to a class: the tenant page reads classes from its health, the wizard from GET /classes.
import type { QueryClient } from "@tanstack/react-query";
import { qk } from "../query-keys";

export function refreshClasses(qc: QueryClient, slug: string): Promise<unknown> {
  return Promise.all([qc.invalidateQueries({ queryKey: qk.health(slug) }), qc.invalidateQueries({ queryKey: qk.classes(slug) })]);
}
