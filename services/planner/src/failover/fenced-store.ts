// A JSON store whose writes are refused once this planner is no longer leader: a demoted planner's late work (a link
// record flushed, routes.current persisted) never overwrites what the new leader restored and writes.
import { X0Error } from "@x0/shared";
import type { JsonStore, Revisioned } from "../kv.ts";

/** A write (or a publish) by a planner that is not the leader now. */
export class NotLeader extends X0Error {}

/** A {@link JsonStore} that writes only while `isLeader()` holds; reads are always allowed. */
export class FencedStore implements JsonStore {
  constructor(
    readonly store: JsonStore,
    readonly isLeader: () => boolean,
  ) {}

  get(key: string): Promise<Revisioned | undefined> {
    return this.store.get(key);
  }

  keys(filter: string): Promise<string[]> {
    return this.store.keys(filter);
  }

  put(key: string, value: unknown): Promise<void> {
    return this.#fenced(`put ${key}`, () => this.store.put(key, value));
  }

  create(key: string, value: unknown): Promise<void> {
    return this.#fenced(`create ${key}`, () => this.store.create(key, value));
  }

  update(key: string, value: unknown, revision: number): Promise<void> {
    return this.#fenced(`update ${key}`, () => this.store.update(key, value, revision));
  }

  delete(key: string): Promise<void> {
    return this.#fenced(`delete ${key}`, () => this.store.delete(key));
  }

  #fenced(what: string, write: () => Promise<void>): Promise<void> {
    if (!this.isLeader()) return Promise.reject(new NotLeader(`${what} refused: this planner is not the leader`));
    return write();
  }
}
