import { describe as group, expect, it } from "vitest";
import { describe, PROFILE_CODES, toCoreError } from "./errors";

group("error words", () => {
  it("maps a code to words, keeping the raw message as the detail", () => {
    const w = describe({ code: "connection_refused", message: "error sending request for url (https://x/oauth2/token): tcp connect error", hint: "Check your network." });
    expect(w.title).toBe("Kinde could not be reached");
    expect(w.title).not.toContain("tcp");
    expect(w.hint).toBe("Check your network.");
    expect(w.field).toBeNull();
    expect(w.detail).toContain("tcp connect error");
    expect(w.detail).toContain("connection_refused");
  });

  it("puts an invalid input at its field, without backticks or the code", () => {
    const w = describe({ code: "invalid_input", message: 'domain: "a..b" is not a valid URL (invalid domain character)', hint: "Give your Kinde domain like `mybiz.kinde.com` (no path)." });
    expect(w.field).toBe("domain");
    expect(w.title).toBe('The domain "a..b" is not a valid URL (invalid domain character)');
    expect(w.hint).toBe("Give your Kinde domain like mybiz.kinde.com (no path).");
    expect(`${w.title} ${w.hint}`).not.toMatch(/`|invalid_input/);
  });

  it("says a wrong secret in words, and knows it is the profile's to fix", () => {
    const w = describe({ code: "invalid_client", message: "token request rejected: invalid_client", hint: "Check the client secret." });
    expect(w.title).toBe("Kinde refused the client id or the client secret");
    expect(PROFILE_CODES.has("invalid_client")).toBe(true);
    expect(PROFILE_CODES.has("timeout")).toBe(false);
    expect(PROFILE_CODES.has("dns")).toBe(false);
  });

  it("describes anything thrown, not only core errors", () => {
    expect(describe(new Error("boom")).title).toBe("Something went wrong in Keyward");
    expect(toCoreError("x").code).toBe("internal");
  });
});
