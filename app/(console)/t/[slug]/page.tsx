import type { Metadata } from "next";
import { TenantOverview } from "@/components/tenant/overview";
import { getConsoleUser } from "@/lib/auth/config";
import { can } from "@/lib/auth/permissions";

export const metadata: Metadata = { title: "Key health" };

export default async function TenantHome({ params }: { params: Promise<{ slug: string }> }) {
  const { slug } = await params;
  const user = await getConsoleUser();
  return (
    <TenantOverview
      slug={slug}
      canLock={can(user?.role, "tenant.lock")}
      canChangeKey={can(user?.role, "key.connect")}
      canShred={can(user?.role, "tenant.shred")}
      canRewrap={can(user?.role, "lifecycle.rewrap")}
      canCancelRewrap={can(user?.role, "lifecycle.cancel")}
      classPermissions={{
        lock: can(user?.role, "tenant.lock"),
        connectKey: can(user?.role, "key.connect"),
        create: can(user?.role, "class.create"),
        remove: can(user?.role, "class.remove"),
        removeSecondary: can(user?.role, "class.secondary_remove"),
        failoverDrill: can(user?.role, "class.failover_drill"),
      }}
    />
  );
}
