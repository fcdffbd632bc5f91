/** login/logout: check credentials against the registry, then keep them in the auth file. */
import type { Context } from "../context.ts";
import { SkiffError } from "../errors.ts";
import { normalizeAuthKey } from "../registry/auth.ts";
import { credentialStore, registryClient } from "./registry.ts";

/** `https://host:5000/v2/` → `host:5000`; Docker Hub spellings → `docker.io`. */
export function registryFromServer(server: string): string {
  const key = normalizeAuthKey(server.trim());
  if (!key || key.includes(" ")) throw new SkiffError("InvalidArgument", `invalid registry ${JSON.stringify(server)}`);
  return key.split("/")[0] ?? key;
}

export async function login(
  ctx: Context,
  server: string,
  opts: { username: string; password: string; authFile?: string | undefined; tlsVerify?: boolean | undefined },
): Promise<void> {
  if (!opts.username) throw new SkiffError("InvalidArgument", "username is empty");
  if (!opts.password) throw new SkiffError("InvalidArgument", "password is empty");
  const registry = registryFromServer(server);
  const client = registryClient(ctx, { tlsVerify: opts.tlsVerify, authFile: opts.authFile });
  const creds = { username: opts.username, password: opts.password };
  // checkLogin's errors already name the registry.
  await client.checkLogin(registry, creds);
  credentialStore(opts.authFile).set(registry, creds);
}

/** Returns the registry logged out of. */
export async function logout(
  _ctx: Context,
  server: string,
  opts: { all: boolean; authFile?: string | undefined },
): Promise<string> {
  const store = credentialStore(opts.authFile);
  if (opts.all) {
    store.removeAll();
    return "all";
  }
  const registry = registryFromServer(server);
  if (!store.remove(registry)) throw new SkiffError("NotFound", `not logged in to ${registry}`);
  return registry;
}
