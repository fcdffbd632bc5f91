/**
 * Events for actions taken through the CLI, in the same log the API service
 * streams from (`docker events` sees `skiff run` too). Best effort: an event
 * that cannot be written never fails the command.
 */
import type { Context } from "../context.ts";
import type { ContainerRecord } from "../containers/record.ts";
import { recordEvent, type EventType } from "../events.ts";
import { familiar } from "../images/views.ts";

export function event(ctx: Context, type: EventType, action: string, id: string, attributes: Record<string, string> = {}): void {
  try {
    recordEvent(ctx.paths.runRoot, { type, action, id, attributes });
  } catch {
    // events are a convenience
  }
}

export function containerEvent(ctx: Context, record: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
  event(ctx, "container", action, record.id, { ...record.options.labels, image: familiar(record.image.name), name: record.name, ...extra });
}
