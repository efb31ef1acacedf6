// Which failures count as "the database is unavailable" (answered 503 database_unavailable with
// Retry-After) and which do not (bugs and bad SQL stay 500): checked with errors raised by the
// real drivers against real servers, and through the real error handler.
import Fastify from "fastify";
import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrismaClient } from "@/lib/db/generated/client";
import { DatabaseUnavailableError, isDatabaseUnavailable } from "@/lib/db/errors";
import { errorHandler } from "@/lib/http/errors";
import { freePort } from "../audit-api/child-broker";
import { PG_ADMIN_URL } from "../../testkit/postgres";

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a failure");
}

let closedUrl: string;
beforeAll(async () => {
  closedUrl = `postgresql://postgres@127.0.0.1:${await freePort()}/nothing`;
});

describe("isDatabaseUnavailable", () => {
  it("is true for a refused connection (pg), for Prisma's P1001 through the pg adapter, and for a terminated backend (57P01)", async () => {
    const pool = new pg.Pool({ connectionString: closedUrl });
    pool.on("error", () => undefined); // idle-client errors are not what is tested here
    expect(isDatabaseUnavailable(await caught(pool.query("SELECT 1")))).toBe(true);
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
    const prismaErr = (await caught(prisma.tenant.findFirst())) as { code?: string };
    expect(prismaErr.code).toBe("P1001");
    expect(isDatabaseUnavailable(prismaErr)).toBe(true);
    await prisma.$disconnect();
    await pool.end();

    const victim = new pg.Client({ connectionString: PG_ADMIN_URL });
    victim.on("error", () => undefined); // the termination is also emitted as an event; the query's rejection is what is checked
    await victim.connect();
    const pid = (await victim.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    const running = caught(victim.query("SELECT pg_sleep(10)"));
    await admin.query("SELECT pg_terminate_backend($1)", [pid]);
    await admin.end();
    const terminated = (await running) as { code?: string };
    expect(terminated.code).toBe("57P01");
    expect(isDatabaseUnavailable(terminated)).toBe(true);
    // And every later query on that client ("not queryable").
    expect(isDatabaseUnavailable(await caught(victim.query("SELECT 1")))).toBe(true);
  });

  it("is false for bad SQL, constraint violations and ordinary bugs; true through a cause chain", async () => {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    try {
      expect(isDatabaseUnavailable(await caught(c.query("SELEC 1")))).toBe(false);
      expect(isDatabaseUnavailable(await caught(c.query("SELECT 1/0")))).toBe(false);
    } finally {
      await c.end();
    }
    expect(isDatabaseUnavailable(new TypeError("x is undefined"))).toBe(false);
    expect(isDatabaseUnavailable(Object.assign(new Error("unique"), { code: "23505" }))).toBe(false);
    expect(isDatabaseUnavailable(new Error("wrapped", { cause: new DatabaseUnavailableError() }))).toBe(true);
  });
});

describe("the API's error handler", () => {
  const app = Fastify();
  beforeAll(async () => {
    app.setErrorHandler(errorHandler);
    app.get("/down", async () => {
      const pool = new pg.Pool({ connectionString: closedUrl });
      pool.on("error", () => undefined); // as above
      try {
        return await pool.query("SELECT 1");
      } finally {
        await pool.end();
      }
    });
    app.get("/bug", () => Promise.reject(new TypeError("a bug")));
    await app.ready();
  });
  afterAll(() => app.close());

  it("answers a database outage with 503 database_unavailable and Retry-After, a bug still with 500", async () => {
    const down = await app.inject({ method: "GET", url: "/down" });
    expect(down.statusCode).toBe(503);
    expect(down.headers["retry-after"]).toMatch(/^\d+$/);
    expect(down.json().error.code).toBe("database_unavailable");
    const bug = await app.inject({ method: "GET", url: "/bug" });
    expect(bug.statusCode).toBe(500);
  });
});
