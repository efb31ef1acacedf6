// Loads the Cloud KMS and IAM service definitions from the .proto files that ship with the
// SDK, so the emulator speaks exactly the wire format the installed client was generated from.
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const require = createRequire(import.meta.url);

// `require.resolve("<pkg>/package.json")` is blocked by google-gax's `exports` map, so start from
// the package's main entry and walk up to the directory whose package.json carries its name.
function packageDir(name: string): string {
  let dir = path.dirname(require.resolve(name));
  for (;;) {
    const pj = path.join(dir, "package.json");
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, "utf8")) as { name?: string }).name === name) return dir;
      } catch {
        // A nested package.json without a name (e.g. {"type":"module"}) is not the root.
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot locate the package directory of ${name}`);
    dir = parent;
  }
}

export interface LoadedServices {
  kms: grpc.ServiceDefinition;
  iam: grpc.ServiceDefinition;
}

let cached: LoadedServices | undefined;

export function loadServices(): LoadedServices {
  if (cached) return cached;
  const kmsProtos = path.join(packageDir("@google-cloud/kms"), "build", "protos");
  const gaxProtos = path.join(packageDir("google-gax"), "build", "protos");
  const def = protoLoader.loadSync(["google/cloud/kms/v1/service.proto", "google/iam/v1/iam_policy.proto"], {
    includeDirs: [kmsProtos, gaxProtos],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const kmsDef = def["google.cloud.kms.v1.KeyManagementService"];
  const iamDef = def["google.iam.v1.IAMPolicy"];
  if (!kmsDef || !iamDef) throw new Error("KMS or IAM service definition missing from the loaded protos");
  cached = { kms: kmsDef as grpc.ServiceDefinition, iam: iamDef as grpc.ServiceDefinition };
  return cached;
}
