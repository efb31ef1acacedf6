// The hand-written SQL migrations must create exactly what prisma/schema.prisma describes:
// same tables and columns (no more, no fewer), same nullability, and every model's every field
// round-trips through the generated client. Runs on PGlite and on real PostgreSQL.
import { readFileSync } from "node:fs";
import { afterAll, describe, expect, test } from "vitest";
import { openDatabase, type Database } from "@/lib/db/database";
import { migrate } from "@/lib/db/migrate";
import { createTestDatabase, type TestDatabase } from "@/testkit/postgres";

interface FieldDef {
  model: string;
  table: string;
  name: string;
  column: string;
  type: string;
  optional: boolean;
  isList: boolean;
  isRelation: boolean;
  hasDefault: boolean;
}

/** Reads models and scalar fields from schema.prisma (the subset of syntax this schema uses). */
function parseSchema(): { tables: Map<string, FieldDef[]>; enums: Set<string> } {
  const src = readFileSync("prisma/schema.prisma", "utf8");
  const enums = new Set([...src.matchAll(/^enum (\w+)/gm)].map((m) => m[1]!));
  const models = new Set([...src.matchAll(/^model (\w+)/gm)].map((m) => m[1]!));
  const tables = new Map<string, FieldDef[]>();
  for (const m of src.matchAll(/^model (\w+) \{([\s\S]*?)^\}/gm)) {
    const model = m[1]!;
    const body = m[2]!;
    const table = /@@map\("([^"]+)"\)/.exec(body)?.[1] ?? model;
    const fields: FieldDef[] = [];
    for (const line of body.split("\n")) {
      const f = /^\s+(\w+)\s+(\w+)(\?|\[\])?(.*)$/.exec(line);
      if (!f || line.trim().startsWith("//") || line.trim().startsWith("@@")) continue;
      const [, name, type, mod, rest] = f;
      const column = /@map\("([^"]+)"\)/.exec(rest!)?.[1] ?? name!;
      fields.push({ model, table, name: name!, column, type: type!, optional: mod === "?", isList: mod === "[]", isRelation: models.has(type!), hasDefault: rest!.includes("@default(") });
    }
    tables.set(table, fields);
  }
  return { tables, enums };
}

function sampleValue(f: FieldDef, enumValue: (e: string) => string, ids: Record<string, string>): unknown {
  switch (f.type) {
    case "String":
      return f.column.endsWith("id") && ids[f.column] ? ids[f.column] : `${f.name}-value`;
    case "Int":
      return 7;
    case "BigInt":
      return 9_007_199_254_740_993n;
    case "Float":
      return 1.5;
    case "Boolean":
      return true;
    case "DateTime":
      return new Date("2026-01-02T03:04:05.678Z");
    case "Bytes":
      return new Uint8Array([1, 2, 3, 255]);
    case "Json":
      return { nested: { a: [1, "two"] } };
    default:
      return enumValue(f.type);
  }
}

const { tables, enums } = parseSchema();
const dbs: Array<{ db: Database; drop?: () => Promise<void> }> = [];

afterAll(async () => {
  for (const d of dbs) {
    await d.db.close();
    await d.drop?.();
  }
});

describe.each(["pglite", "postgres"])("migrations on %s", (kind) => {
  let db: Database;
  let pgTest: TestDatabase | undefined;

  test("apply to a fresh database, then are a no-op", async () => {
    if (kind === "postgres") {
      pgTest = await createTestDatabase("cmek_schema");
      db = await openDatabase({ databaseUrl: pgTest.url });
    } else {
      db = await openDatabase({ pgliteDir: "memory://" });
    }
    dbs.push({ db, drop: pgTest?.drop.bind(pgTest) });
    const first = await migrate(db);
    expect(first.applied.length).toBeGreaterThan(0);
    const second = await migrate(db);
    expect(second.applied).toEqual([]);
  });

  test("tables, columns and nullability match schema.prisma exactly", async () => {
    const cols = await db.query<{ table_name: string; column_name: string; is_nullable: string }>(
      `SELECT table_name, column_name, is_nullable FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_cmek_migrations'`,
    );
    const actual = new Map<string, Map<string, boolean>>();
    for (const c of cols) {
      if (!actual.has(c.table_name)) actual.set(c.table_name, new Map());
      actual.get(c.table_name)!.set(c.column_name, c.is_nullable === "YES");
    }
    expect([...actual.keys()].sort()).toEqual([...tables.keys()].sort());
    for (const [table, fields] of tables) {
      const scalars = fields.filter((f) => !f.isRelation);
      expect([...actual.get(table)!.keys()].sort(), table).toEqual(scalars.map((f) => f.column).sort());
      for (const f of scalars) expect(actual.get(table)!.get(f.column), `${table}.${f.column} nullable`).toBe(f.optional);
    }
    const dbEnums = await db.query<{ typname: string }>(`SELECT typname FROM pg_type WHERE typtype = 'e'`);
    expect(dbEnums.map((e) => e.typname).sort()).toEqual([...enums].sort());
  });

  test("every model and field round-trips through the generated client", async () => {
    const src = readFileSync("prisma/schema.prisma", "utf8");
    const enumValue = (e: string) => new RegExp(`enum ${e} \\{\\s*(\\w+)`).exec(src)![1]!;
    const tenant = await db.prisma.tenant.create({ data: { slug: `rt-${kind}`, name: "RT" } });
    const user = await db.prisma.consoleUser.create({ data: { email: `rt-${kind}@x`, role: "tenant_admin", tenantId: tenant.id } });
    const conn = await db.prisma.keyConnection.create({ data: { tenantId: tenant.id, provider: "aws", keyRef: "k" } });
    const sub = await db.prisma.webhookSubscription.create({ data: { tenantId: tenant.id, url: "https://x", secret: "s" } });
    const token = await db.prisma.serviceToken.create({ data: { tenantId: tenant.id, name: "rt", prefix: "cmk_rt", tokenHash: `rt-${kind}` } });
    const approval = await db.prisma.approvalRequest.create({
      data: { tenantId: tenant.id, action: "tenant.unlock", params: {}, requestedById: user.id, requestedByName: "rt", requiredApprovals: 1, createdAt: new Date(), expiresAt: new Date() },
    });
    const dataClass = await db.prisma.dataClass.create({ data: { tenantId: tenant.id, name: "rt" } });
    const dek = await db.prisma.dataKey.create({ data: { tenantId: tenant.id, keyConnectionId: conn.id, wrappedKey: new Uint8Array([1]) } });
    const ids: Record<string, string> = {
      tenant_id: tenant.id,
      user_id: user.id,
      key_connection_id: conn.id,
      target_connection_id: conn.id,
      subscription_id: sub.id,
      token_id: token.id,
      request_id: approval.id,
      data_class_id: dataClass.id,
      dek_id: dek.id,
    };
    for (const [table, fields] of tables) {
      const model = fields[0]!.model;
      const delegate = (db.prisma as unknown as Record<string, { create(a: unknown): Promise<Record<string, unknown>> }>)[model[0]!.toLowerCase() + model.slice(1)]!;
      const data: Record<string, unknown> = {};
      for (const f of fields) {
        if (f.isRelation || f.isList) continue;
        if (f.name === "id" && f.hasDefault) continue;
        data[f.name] = sampleValue(f, enumValue, ids);
      }
      if (model === "ConsoleUser") data.email = `other-${kind}@x`;
      if (model === "Tenant") data.slug = `rt2-${kind}`;
      const created = await delegate.create({ data });
      for (const [k, v] of Object.entries(data)) {
        const got = created[k];
        if (v instanceof Uint8Array) expect(Buffer.from(got as Uint8Array).equals(Buffer.from(v)), `${table}.${k}`).toBe(true);
        else expect(got, `${table}.${k}`).toEqual(v);
      }
    }
  });

  test("the audit log refuses UPDATE, DELETE and TRUNCATE for every role", async () => {
    const t = await db.prisma.tenant.findFirstOrThrow();
    await db.query(
      `INSERT INTO audit_event (tenant_id, seq, time, actor_type, action, outcome, prev_hash, hash) VALUES ($1, 1000, now(), 'system', 'encrypt', 'success', 'p', 'h')`,
      [t.id],
    );
    await expect(db.query(`UPDATE audit_event SET outcome = 'denied' WHERE seq = 1000`)).rejects.toThrow(/append-only/);
    await expect(db.query(`DELETE FROM audit_event WHERE seq = 1000`)).rejects.toThrow(/append-only/);
    await expect(db.query(`TRUNCATE audit_event`)).rejects.toThrow(/append-only/);
  });
});
