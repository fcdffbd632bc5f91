/** Container records as the engine writes them, for unit tests that need one without creating a container. */
import { createOptions } from "../../lib/containers/options.ts";
import type { ContainerRecord } from "../../lib/containers/record.ts";

export function testRecord(o: {
  id: string;
  name: string;
  image?: string;
  imageConfig?: ContainerRecord["imageConfig"];
  options?: Parameters<typeof createOptions>[0];
  rootless?: boolean;
}): ContainerRecord {
  return {
    schemaVersion: 1,
    id: o.id,
    name: o.name,
    created: "2024-01-01T00:00:00Z",
    image: { id: `sha256:${"b".repeat(64)}` as never, name: o.image ?? "registry.example.com/web:1", chainIds: [] },
    imageConfig: o.imageConfig === undefined ? { Env: ["PATH=/bin"], Cmd: ["httpd"] } : o.imageConfig,
    options: createOptions(o.options ?? {}),
    runtime: "runc",
    rootless: o.rootless ?? false,
    driver: "overlay",
  };
}
