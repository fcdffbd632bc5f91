/**
 * What the CLI tells a shim: written to <run>/containers/<id>/shim.json
 * before the shim starts (and the flag an early shim is started with). Plain
 * types: the shim loads no validation library, to stay small (its memory is
 * counted per container).
 */
import type { NetworkAttachment, NetworkPlan } from "../lib/network/plan.ts";
import type { PortBinding } from "../lib/containers/ports.ts";
import type { RuntimeConfig } from "../runtime/oci.ts";
import type { ShimUnitConfig } from "../lib/systemd/unit-start.ts";
import type { Healthcheck, RestartPolicy } from "../lib/containers/health.ts";

/** An early shim's second argument when it should make no spare network namespace (the run asked for none of its own). */
export const NO_SPARE_NETNS = "--no-spare-netns";

export interface ShimConfig {
  id: string;
  name: string;
  /** Persistent container directory (config.json, state.json, upper, work, ctr.log). */
  containerDir: string;
  /** Volatile directory (shim.sock, pid files, bundle). */
  runDir: string;
  /** Bundle directory holding config.json (the OCI spec). */
  bundle: string;
  /** Where the root filesystem is mounted (inside the shim's mount namespace). */
  rootfs: string;
  driver: "overlay" | "fuse-overlayfs" | "copy";
  /** Snapshot directory; lowerDirs are relative to it (keeps overlay options short). */
  snapshotsDir: string;
  /** Layer directories, top-most first. */
  lowerDirs: string[];
  upperDir: string;
  workDir: string;
  runtime: RuntimeConfig;
  tty: boolean;
  openStdin: boolean;
  /** Close the container's stdin when the first attached client closes its stdin. */
  stdinOnce: boolean;
  logPath: string;
  logMaxSize?: number;
  logMaxFiles?: number;
  autoRemove: boolean;
  /** Keep output and wait a little for a first attach before exiting (foreground run). */
  waitForAttach: boolean;
  /**
   * The CLI reads the container's output and exit as frames on the sync
   * pipe, after the sync line (a foreground run without a terminal or
   * stdin): no socket round trip to attach.
   */
  attachOnSyncPipe?: boolean;
  /** Directory of name symlinks, to release the name on auto-removal. */
  namesDir: string;
  /** How to wire the container's network before the runtime starts. */
  network: NetworkPlan;
  /** User networks to attach to. */
  attachments: NetworkAttachment[];
  /** The container's hosts file, to receive its address. */
  hostsFile?: string;
  /** Published ports, recorded in state for `port` and `inspect`. */
  ports: PortBinding[];
  restart: RestartPolicy;
  /** The healthcheck in force (image HEALTHCHECK with the run flags over it), if any. */
  healthcheck?: Healthcheck;
  healthOnFailure: "none" | "kill" | "restart" | "stop";
  /** Running under a systemd unit: sd-notify and socket activation (lib/systemd/unit-start.ts). */
  unit?: ShimUnitConfig;
  /** Initial terminal size. */
  rows?: number;
  cols?: number;
}
