// Child processes for the servers under test, and what /proc says about them (CPU, RSS).
// Servers run in their own processes so the load generator never shares their event loop.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import net from "node:net";

export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  url: string;
  /** Last lines of output, for error messages. */
  log(): string;
  stop(): Promise<void>;
}

/** Spawns a server and resolves with its URL once a line of its output matches `ready` (group 1 = URL). */
export function startChild(name: string, cmd: string, args: string[], env: Record<string, string | undefined>, ready: RegExp, timeoutMs = 90_000): Promise<Child> {
  const proc = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let tail = "";
  const log = () => tail.slice(-4000);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${name}: not ready after ${timeoutMs} ms\n${log()}`)), timeoutMs);
    const fail = (e: Error) => {
      clearTimeout(timer);
      proc.kill("SIGKILL");
      reject(e);
    };
    const onData = (d: Buffer) => {
      tail = (tail + d.toString()).slice(-20_000);
      const m = ready.exec(tail);
      if (m && timer) {
        clearTimeout(timer);
        resolve({ name, proc, pid: proc.pid!, url: m[1]!, log, stop: () => stopChild(proc) });
      }
    };
    proc.stdout!.on("data", onData);
    proc.stderr!.on("data", onData);
    proc.on("exit", (code) => fail(new Error(`${name} exited with ${code}\n${log()}`)));
  });
}

function stopChild(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => proc.kill("SIGKILL"), 10_000);
    proc.removeAllListeners("exit");
    proc.once("exit", () => {
      clearTimeout(force);
      resolve();
    });
    proc.kill("SIGTERM");
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

const TICKS_PER_S = 100; // USER_HZ on Linux

function descendants(pid: number): number[] {
  const out = [pid];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
      if (kids) for (const k of kids.split(/\s+/)) out.push(...descendants(Number(k)));
    }
  } catch {
    /* exited */
  }
  return out;
}

/** CPU seconds used so far by a process and (tree) all its descendants. */
export function cpuSeconds(pid: number, tree = true): number {
  let ticks = 0;
  for (const p of tree ? descendants(pid) : [pid]) {
    try {
      // Fields after the command name (which may contain spaces): utime is the 12th, stime the 13th.
      const rest = readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1]!.split(" ");
      ticks += Number(rest[11]) + Number(rest[12]);
    } catch {
      /* exited */
    }
  }
  return ticks / TICKS_PER_S;
}

/** CPU seconds used by the whole machine (all cores, busy time only). */
export function machineCpuSeconds(): number {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  return (user! + nice! + system! + irq! + softirq! + steal!) / TICKS_PER_S;
}

/** Resident set size of a process tree, in MiB. */
export function rssMiB(pid: number): number {
  let kb = 0;
  for (const p of descendants(pid)) {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0);
    } catch {
      /* exited */
    }
  }
  return kb / 1024;
}

/** Measures how the cores were shared while `fn` ran: load generator (this process), server (child tree), everything else. */
export async function withCpuShare<T>(serverPid: number | number[], fn: () => Promise<T>): Promise<{ value: T; cores: { bench: number; server: number; other: number } }> {
  const pids = Array.isArray(serverPid) ? serverPid : [serverPid];
  const serverCpu = () => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const t0 = performance.now();
  // This process alone (its children are the servers): autocannon plus the in-process emulators.
  const b0 = cpuSeconds(process.pid, false);
  const s0 = serverCpu();
  const m0 = machineCpuSeconds();
  const value = await fn();
  const wall = (performance.now() - t0) / 1000;
  const bench = (cpuSeconds(process.pid, false) - b0) / wall;
  const server = (serverCpu() - s0) / wall;
  const other = Math.max(0, (machineCpuSeconds() - m0) / wall - bench - server);
  return { value, cores: { bench, server, other } };
}
