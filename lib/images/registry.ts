/** Builds the registry client for a context: credentials files and insecure registries from config. */
import type { Context } from "../context.ts";
import { authFileCandidates } from "../paths.ts";
import { CredentialStore } from "../registry/auth.ts";
import { RegistryClient } from "../registry/client.ts";

export function credentialStore(authFile?: string): CredentialStore {
  const candidates = authFileCandidates({ uid: process.getuid?.() ?? 0, env: process.env });
  return new CredentialStore(authFile ? [authFile] : candidates);
}

export function registryClient(ctx: Context, opts: { tlsVerify?: boolean | undefined; authFile?: string | undefined } = {}): RegistryClient {
  return new RegistryClient({
    credentials: credentialStore(opts.authFile),
    insecureRegistries: ctx.config.insecureRegistries,
    ...(opts.tlsVerify === false ? { tlsVerify: false } : {}),
    userAgent: "skiff",
  });
}
