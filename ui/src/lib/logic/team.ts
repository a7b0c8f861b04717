// Team mode: what a member's role may do (from the role table Rust sends, which comes from the
// one list of operations), the reason a disabled action gives, and the Connect form's errors
// placed at their field.
import type { Role } from "../bindings/Role";
import { describe, OFFLINE_CODES, toCoreError, type ErrorWords } from "./errors";

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** What an action is called in a disabled button's reason ("Viewers cannot revoke keys"). */
const DOING: Record<string, string> = {
  key_create: "create keys",
  canary_create: "create canary keys",
  key_rotate: "rotate keys",
  key_reissue: "re-issue keys",
  keys_revoke: "revoke keys",
  alerts_ack: "acknowledge alerts",
  alerts_mute: "mute alerts",
  alerts_unmute: "unmute alerts",
  canary_mark: "mark canaries",
  policy_set: "change the policy",
  key_expires_set: "set expiry dates",
  leak_remediate: "remediate leaks",
  sync_start: "start a sync",
};

const PLURAL: Record<Role, string> = { viewer: "Viewers", operator: "Operators", admin: "Admins" };

/** Whether `role` may run `op`, by the role table (`roles[op]`: the least role it needs). An
 * operation the table does not know is allowed (the server still checks every write). */
export function allows(roles: Partial<Record<string, Role>>, role: Role, op: string): boolean {
  const need = roles[op];
  return need === undefined || RANK[role] >= RANK[need];
}

/** Why `role` may not run `op`, in words for a tooltip; `null` when it may. */
export function whyNot(roles: Partial<Record<string, Role>>, role: Role, op: string): string | null {
  if (allows(roles, role, op)) return null;
  const need = roles[op] as Role;
  const doing = DOING[op] ?? `run ${op.replaceAll("_", " ")}`;
  const article = need === "admin" || need === "operator" ? "an" : "a";
  return `${PLURAL[role]} cannot ${doing}: ask an admin for ${article} ${need} role`;
}

/** The Connect form's Keyward Server choice: an error placed at the field it is about
 * (`server` or `token`), in words about the Keyward Server (not Kinde). */
export function teamError(e: unknown): ErrorWords {
  const err = toCoreError(e);
  const words = describe(err);
  if (err.code === "invalid_input") return words;
  if (err.code === "unauthenticated") {
    return { ...words, field: "token", title: "The Keyward Server does not accept this token (wrong or revoked)" };
  }
  if (OFFLINE_CODES.has(err.code)) {
    const title = err.code === "tls" ? "A secure connection to the Keyward Server could not be made" : "The Keyward Server could not be reached";
    return { ...words, field: "server", title };
  }
  if (err.code === "unexpected_response") return { ...words, field: "server", title: "This address does not answer like a Keyward Server" };
  return words;
}

/** "keyward.example.com" for "https://keyward.example.com": the mark of a team profile. */
export function serverHost(server: string): string {
  try {
    return new URL(server).host;
  } catch {
    return server.replace(/^https?:\/\//, "");
  }
}
