// The broker's one structured logger. Everything that runs in the background logs through it, so
// an operator sees a failing safety loop (prober, fan-out, audit writer) instead of silence.
// Serializers keep bodies, tokens and key material out of every line.
import pino, { type Logger } from "pino";

export type { Logger };

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export function createLogger(opts: { level?: LogLevel; instanceId?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? "info",
      base: opts.instanceId ? { instance: opts.instanceId } : undefined,
      redact: { paths: ["token", "secret", "password", "plaintext", "dek", "*.token", "*.secret", "*.password", "*.plaintext", "*.dek", "headers.authorization"], censor: "[redacted]" },
      serializers: { err: pino.stdSerializers.err },
    },
    opts.destination,
  );
}

/** A logger that drops everything: for library callers and tests that pass none. */
export const silentLogger: Logger = pino({ level: "silent" });
