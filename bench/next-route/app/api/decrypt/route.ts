// The broker's decrypt, as a Next.js App Router route handler: same request and response shape,
// same AES-256-GCM with an in-memory key (BENCH_KEY_HEX). Exists only to measure what the Next.js
// request path costs compared with the lean API path (DESIGN.md, "One process, two front doors").
import { createDecipheriv } from "node:crypto";

export const dynamic = "force-dynamic";

const key = Buffer.from(process.env.BENCH_KEY_HEX ?? "", "hex");

export async function POST(req: Request): Promise<Response> {
  const { ciphertext } = (await req.json()) as { ciphertext: string };
  const sealed = Buffer.from(ciphertext, "base64");
  // Layout (bench/lib/aes.ts): nonce (12) | tag (16) | ciphertext.
  const decipher = createDecipheriv("aes-256-gcm", key, sealed.subarray(0, 12));
  decipher.setAuthTag(sealed.subarray(12, 28));
  const plaintext = Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]);
  return Response.json({ plaintext: plaintext.toString("base64") });
}
