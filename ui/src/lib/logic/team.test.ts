import { describe as suite, expect, it } from "vitest";
import { allows, serverHost, teamError, whyNot } from "./team";
import type { Role } from "../bindings/Role";

const roles: Record<string, Role> = { keys_changed_since: "viewer", keys_revoke: "operator", key_rotate: "operator", policy_set: "admin" };

suite("team roles", () => {
  it("allows by rank and says why not", () => {
    expect(allows(roles, "viewer", "keys_changed_since")).toBe(true);
    expect(allows(roles, "viewer", "keys_revoke")).toBe(false);
    expect(allows(roles, "operator", "keys_revoke")).toBe(true);
    expect(allows(roles, "operator", "policy_set")).toBe(false);
    expect(allows(roles, "admin", "policy_set")).toBe(true);
    expect(whyNot(roles, "operator", "keys_revoke")).toBeNull();
    expect(whyNot(roles, "viewer", "keys_revoke")).toBe("Viewers cannot revoke keys: ask an admin for an operator role");
    expect(whyNot(roles, "operator", "policy_set")).toBe("Operators cannot change the policy: ask an admin for an admin role");
  });

  it("an operation the table does not know is left to the server", () => {
    expect(allows(roles, "viewer", "something_new")).toBe(true);
  });
});

suite("the Connect form's server errors", () => {
  it("puts each error at its field", () => {
    expect(teamError({ code: "invalid_input", message: "server: http is only allowed for loopback", hint: "Use https://" }).field).toBe("server");
    expect(teamError({ code: "invalid_input", message: "token: is empty", hint: "h" }).field).toBe("token");
    const bad = teamError({ code: "unauthenticated", message: "unknown or revoked token", hint: "Ask an admin" });
    expect(bad.field).toBe("token");
    expect(bad.title).toContain("does not accept this token");
    const down = teamError({ code: "connection_refused", message: "nothing listens", hint: "h" });
    expect(down.field).toBe("server");
    expect(down.title).toBe("The Keyward Server could not be reached");
    expect(teamError({ code: "internal", message: "x", hint: "" }).field).toBeNull();
  });

  it("names a server by its host", () => {
    expect(serverHost("https://keyward.example.com")).toBe("keyward.example.com");
    expect(serverHost("http://127.0.0.1:8443")).toBe("127.0.0.1:8443");
  });
});
