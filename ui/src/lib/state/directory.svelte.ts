// The business's APIs, organizations and users (filters, owners' names, Create key).
import * as backend from "../backend/commands";
import type { Api, KeyView, Org, User } from "../backend/commands";

class Directory {
  apis = $state.raw<Api[]>([]);
  orgs = $state.raw<Org[]>([]);
  users = $state.raw<User[]>([]);

  /** Bumped by each reset: a load of the session before does not land in this one. */
  #generation = 0;

  reset(): void {
    this.#generation += 1;
    this.apis = [];
    this.orgs = [];
    this.users = [];
  }

  async load(): Promise<void> {
    const generation = this.#generation;
    const [apis, orgs, users] = await Promise.allSettled([backend.apisList(), backend.orgsList(null), backend.usersList(null)]);
    if (generation !== this.#generation) return;
    if (apis.status === "fulfilled") this.apis = apis.value;
    if (orgs.status === "fulfilled") this.orgs = orgs.value;
    if (users.status === "fulfilled") this.users = users.value;
  }

  /** A key's owner as a person reads it: its name, the org's name, or the user's id. */
  ownerName = (k: Pick<KeyView, "owner_name" | "org_code" | "user_id">): string => {
    if (k.owner_name) return k.owner_name;
    if (k.org_code) return this.orgs.find((o) => o.code === k.org_code)?.name ?? k.org_code;
    if (k.user_id) return k.user_id;
    return "—";
  };
}

export const directory = new Directory();
