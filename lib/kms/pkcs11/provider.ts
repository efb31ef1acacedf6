// PKCS#11 provider: wraps DEKs with an AES-256 secret key on a token of the vendor's PKCS#11
// module (an on-premises HSM, a cloud HSM partition's client library, SoftHSM2 in tests) with
// CKM_AES_GCM through C_Encrypt / C_Decrypt. The module path, the tokens tenants may name and
// their PINs are vendor configuration; the tenant names token and key by an RFC 7512 URI.
import { OWNERSHIP_TAG } from "../ownership-tag";
import { KmsError, type KeyDescription, type KmsProvider, type WrapResult } from "../types";
import { CKR, ckrOf, classifyPkcs11Error, notFound } from "./classify";
import { gcmMechanism, newIv, packWrapped, TAG_BYTES, unpackWrapped, wrapAad, type GcmLayout } from "./gcm";
import type * as P11 from "pkcs11js";
import { acquireModule, pkcs11js, releaseModule } from "./module";
import { PinStore } from "./pins";
import { TokenSessions, type Pkcs11Counters } from "./token";
import { formatPkcs11Uri, parsePkcs11Uri, type Pkcs11KeyRef } from "./uri";

export interface Pkcs11ProviderConfig {
  modulePath: string;
  pinDir: string;
  /** Token labels tenants may name; empty: any token with a PIN file. */
  allowedTokens: readonly string[];
  gcmLayout: GcmLayout;
  sessionsPerToken: number;
  pinCheckMs: number;
  timeoutMs: number;
}

type Handle = Buffer;
const MAX_DEK_BYTES = 64;

export class Pkcs11KmsProvider implements KmsProvider {
  readonly name = "pkcs11" as const;
  private lib: P11.PKCS11 | null = null;
  private readonly pins: PinStore;
  private readonly tokens = new Map<string, TokenSessions>();
  /** Native calls made, for tests and the benchmark's KMS economy (the emulators count theirs). */
  readonly counters: Pkcs11Counters = { encrypt: 0, decrypt: 0, login: 0, findObjects: 0 };

  constructor(private readonly config: Pkcs11ProviderConfig) {
    this.pins = new PinStore(config.pinDir);
  }

  /** Loaded on first use, so a broker that never sees a PKCS#11 key never loads the module. */
  private module(): P11.PKCS11 {
    if (!this.lib) {
      try {
        this.lib = acquireModule(this.config.modulePath);
      } catch (e) {
        throw classifyPkcs11Error(e, ` (loading ${this.config.modulePath})`);
      }
    }
    return this.lib;
  }

  validateKeyRef(keyId: string): void {
    const ref = parsePkcs11Uri(keyId);
    if (this.config.allowedTokens.length && !this.config.allowedTokens.includes(ref.token)) {
      throw new KmsError("invalid", "pkcs11", `token "${ref.token}" is not one this broker serves (BROKER_PKCS11_TOKENS)`, { providerCode: "token_not_allowed" });
    }
  }

  canonicalKeyRef(keyId: string): string {
    this.validateKeyRef(keyId);
    return formatPkcs11Uri(parsePkcs11Uri(keyId));
  }

  private token(ref: Pkcs11KeyRef): TokenSessions {
    const key = `${ref.token}\0${ref.serial ?? ""}`;
    let t = this.tokens.get(key);
    if (!t) {
      const { sessionsPerToken: sessions, pinCheckMs, timeoutMs } = this.config;
      t = new TokenSessions(this.module(), ref.token, ref.serial, this.pins, { sessions, pinCheckMs, timeoutMs }, this.counters);
      this.tokens.set(key, t);
    }
    return t;
  }

  /** The key's handle, cached per token login; a missing key is confirmed on a present token before it counts as gone. */
  private findKey(token: TokenSessions, session: Handle, ref: Pkcs11KeyRef, canonical: string): Handle {
    const cached = token.keyHandles.get(canonical);
    if (cached) return cached;
    const lib = this.module();
    const template: P11.Template = [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY }];
    if (ref.object) template.push({ type: pkcs11js.CKA_LABEL, value: ref.object });
    if (ref.id) template.push({ type: pkcs11js.CKA_ID, value: ref.id });
    this.counters.findObjects++;
    lib.C_FindObjectsInit(session, template);
    let found: Handle[];
    try {
      found = lib.C_FindObjects(session, 2);
    } finally {
      lib.C_FindObjectsFinal(session);
    }
    if (found.length === 0) {
      // Only a logged-in session on a present token makes "no key" a revocation: a logged-out session
      // does not see private objects, and SoftHSM2 answers an empty search when its token store vanished.
      token.checkLoggedIn(session);
      token.checkPresent();
      throw notFound(` (${canonical})`);
    }
    if (found.length > 1) throw new KmsError("invalid", "pkcs11", `more than one secret key matches ${canonical}; add id= to the reference`, { providerCode: "ambiguous_key" });
    token.keyHandles.set(canonical, found[0]!);
    return found[0]!;
  }

  /** Runs `op` with the key's handle; a stale handle (key destroyed, or re-created) is looked up once more. */
  private async withKey<T>(keyId: string, op: (session: Handle, key: Handle, bound: <R>(p: Promise<R>, what: string) => Promise<R>) => Promise<T>): Promise<T> {
    this.validateKeyRef(keyId);
    const ref = parsePkcs11Uri(keyId);
    const canonical = formatPkcs11Uri(ref);
    const token = this.token(ref);
    try {
      return await token.use(async (session, bound) => {
        try {
          return await op(session, this.findKey(token, session, ref, canonical), bound);
        } catch (e) {
          if (ckrOf(e) !== CKR.OBJECT_HANDLE_INVALID && ckrOf(e) !== CKR.KEY_HANDLE_INVALID) throw e;
          token.keyHandles.delete(canonical);
          return await op(session, this.findKey(token, session, ref, canonical), bound);
        }
      });
    } catch (e) {
      if (ckrOf(e) === CKR.OBJECT_HANDLE_INVALID || ckrOf(e) === CKR.KEY_HANDLE_INVALID) throw notFound(` (${canonical})`);
      throw classifyPkcs11Error(e, ` (${canonical})`);
    }
  }

  private keyVersion(session: Handle, key: Handle, ref: Pkcs11KeyRef): string {
    const [id] = this.module().C_GetAttributeValue(session, key, [{ type: pkcs11js.CKA_ID }]);
    const bytes = id?.value instanceof Buffer ? id.value : null;
    return bytes && bytes.length ? bytes.toString("hex") : `label:${ref.object ?? ""}`;
  }

  async wrap(keyId: string, dek: Buffer, context: Record<string, string>): Promise<WrapResult> {
    if (!Buffer.isBuffer(dek) || dek.length === 0 || dek.length > MAX_DEK_BYTES) throw new KmsError("invalid", "pkcs11", `DEK must be 1-${MAX_DEK_BYTES} bytes`);
    const aad = wrapAad(context);
    const ref = parsePkcs11Uri(keyId);
    return this.withKey(keyId, async (session, key, bound) => {
      const lib = this.module();
      const iv = newIv();
      lib.C_EncryptInit(session, gcmMechanism(this.config.gcmLayout, iv, aad), key);
      this.counters.encrypt++;
      const sealed = await bound(lib.C_EncryptAsync(session, dek, Buffer.alloc(dek.length + TAG_BYTES)), "C_Encrypt");
      return { wrapped: packWrapped(iv, Buffer.from(sealed)), keyVersion: this.keyVersion(session, key, ref) };
    });
  }

  async unwrap(keyId: string, wrapped: Buffer, context: Record<string, string>): Promise<Buffer> {
    const { iv, sealed } = unpackWrapped(wrapped);
    const aad = wrapAad(context);
    try {
      return await this.withKey(keyId, async (session, key, bound) => {
        const lib = this.module();
        lib.C_DecryptInit(session, gcmMechanism(this.config.gcmLayout, iv, aad), key);
        this.counters.decrypt++;
        const out = Buffer.alloc(sealed.length);
        const plain = await bound(lib.C_DecryptAsync(session, sealed, out), "C_Decrypt");
        const result = Buffer.from(plain);
        out.fill(0);
        return result;
      });
    } catch (e) {
      const code = e instanceof KmsError ? e.detail.providerCode : undefined;
      if (code === "CKR_ENCRYPTED_DATA_INVALID" || code === "CKR_ENCRYPTED_DATA_LEN_RANGE" || code === "CKR_AEAD_DECRYPT_FAILED") {
        throw new KmsError("invalid", "pkcs11", "the token rejected the wrapped DEK (tampered, or wrapped under another context)", { providerCode: code });
      }
      // SoftHSM2 answers a failed GCM tag check with CKR_GENERAL_ERROR, as a device fault would: a
      // round trip of our own through the same key tells them apart (it works: the input was bad).
      if (code === "CKR_GENERAL_ERROR" && (await this.selfTest(keyId, context))) {
        throw new KmsError("invalid", "pkcs11", "the token rejected the wrapped DEK (tampered, or wrapped under another context)", { providerCode: "CKR_GENERAL_ERROR:tag_mismatch" });
      }
      throw e;
    }
  }

  private async selfTest(keyId: string, context: Record<string, string>): Promise<boolean> {
    try {
      const probe = Buffer.alloc(16, 0x5a);
      const { wrapped } = await this.wrap(keyId, probe, context);
      return (await this.withKey(keyId, async (session, key, bound) => {
        const { iv, sealed } = unpackWrapped(wrapped);
        this.module().C_DecryptInit(session, gcmMechanism(this.config.gcmLayout, iv, wrapAad(context)), key);
        this.counters.decrypt++;
        return bound(this.module().C_DecryptAsync(session, sealed, Buffer.alloc(sealed.length)), "C_Decrypt");
      })).equals(probe);
    } catch {
      // The device fails our own round trip too: the original error stands as an outage.
      return false;
    }
  }

  async describe(keyId: string): Promise<KeyDescription> {
    const ref = parsePkcs11Uri(keyId);
    return this.withKey(keyId, (session, key) => {
      const attrs = this.module().C_GetAttributeValue(session, key, [{ type: pkcs11js.CKA_ENCRYPT }, { type: pkcs11js.CKA_DECRYPT }]);
      const [enc, dec] = attrs.map((a) => a.value instanceof Buffer && a.value[0] === 1);
      const state = enc && dec ? "usable" : !dec ? "decrypt-not-permitted" : "encrypt-not-permitted";
      return Promise.resolve({ enabled: Boolean(enc && dec), state, currentVersion: this.keyVersion(session, key, ref) });
    });
  }

  /**
   * The ownership proof: a data object (CKO_DATA) on the token labelled cmek-broker-tenant whose
   * value is the tenant id. Only a holder of the token's PIN or SO PIN, i.e. the tenant, creates it.
   */
  /** PKCS#11 has no scheduled deletion: C_DestroyObject is immediate (and seen as not_found). */
  scheduledDeletion(keyId: string): Promise<Date | null> {
    this.validateKeyRef(keyId);
    return Promise.resolve(null);
  }

  async ownershipTags(keyId: string): Promise<Record<string, string>> {
    const ref = parsePkcs11Uri(keyId);
    this.validateKeyRef(keyId);
    try {
      return await this.token(ref).use((session) => {
        const lib = this.module();
        this.counters.findObjects++;
        lib.C_FindObjectsInit(session, [
          { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_DATA },
          { type: pkcs11js.CKA_LABEL, value: OWNERSHIP_TAG },
        ]);
        let found: Handle[];
        try {
          found = lib.C_FindObjects(session, 1);
        } finally {
          lib.C_FindObjectsFinal(session);
        }
        if (!found[0]) return Promise.resolve({});
        const [v] = lib.C_GetAttributeValue(session, found[0], [{ type: pkcs11js.CKA_VALUE }]);
        const value = v?.value instanceof Buffer ? v.value.toString("utf8").trim() : "";
        return Promise.resolve({ [OWNERSHIP_TAG]: value });
      });
    } catch (e) {
      throw classifyPkcs11Error(e, ` (token "${ref.token}")`);
    }
  }

  close(): void {
    for (const t of this.tokens.values()) t.close();
    this.tokens.clear();
    if (this.lib) releaseModule(this.config.modulePath);
    this.lib = null;
  }
}
