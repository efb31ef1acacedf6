// Demo console users (npm start and the e2e stack): one vendor operator, and an admin and an
// auditor per tenant. Idempotent: existing users keep their id, and get the given password
// and role again, so a restarted demo prints credentials that work. Without given passwords
// each user gets its own, so the demo shows that one tenant's admin cannot sign in as another's.
import { randomBytes } from "node:crypto";
import type { Database } from "../db/database";
import { hashPassword } from "./password";
import type { ConsoleRole } from "./roles";

export interface SeedPasswords {
  vendorOps: string;
  tenantAdmin: string;
  tenantAuditor: string;
}

export interface SeededCredential {
  email: string;
  password: string;
  role: ConsoleRole;
  /** The tenant's slug; absent for the vendor operator. */
  tenant?: string;
}

const randomPassword = () => randomBytes(12).toString("base64url");

/**
 * `password`: one password for every user, or one per role; missing ones are generated for each
 * user (random, so a demo reachable from elsewhere is not open with a well-known password).
 */
export async function seedConsoleUsers(
  db: Database,
  tenants: Array<{ id: string; slug: string }>,
  password?: string | Partial<SeedPasswords>,
): Promise<SeededCredential[]> {
  const given = typeof password === "string" ? { vendorOps: password, tenantAdmin: password, tenantAuditor: password } : (password ?? {});
  const passwordFor = (role: keyof SeedPasswords) => given[role] ?? randomPassword();
  const wanted: Array<SeededCredential & { tenantId: string | null }> = [
    { email: "ops@vendor.example", password: passwordFor("vendorOps"), role: "vendor_ops", tenantId: null },
  ];
  for (const t of tenants) {
    wanted.push({ email: `admin@${t.slug}.example`, password: passwordFor("tenantAdmin"), role: "tenant_admin", tenantId: t.id, tenant: t.slug });
    wanted.push({ email: `auditor@${t.slug}.example`, password: passwordFor("tenantAuditor"), role: "tenant_auditor", tenantId: t.id, tenant: t.slug });
  }
  const hashes = new Map<string, Promise<string>>();
  const hashOf = (pw: string) => {
    let h = hashes.get(pw);
    if (!h) hashes.set(pw, (h = hashPassword(pw)));
    return h;
  };
  for (const u of wanted) {
    // Users sharing a password share one hash (and salt): these are throwaway demo accounts.
    const passwordHash = await hashOf(u.password);
    await db.prisma.consoleUser.upsert({
      where: { email: u.email },
      create: { email: u.email, name: u.email.split("@")[0] ?? null, role: u.role, tenantId: u.tenantId, passwordHash },
      update: { role: u.role, tenantId: u.tenantId, passwordHash, disabledAt: null },
    });
  }
  return wanted.map(({ tenantId: _t, ...cred }) => cred);
}
