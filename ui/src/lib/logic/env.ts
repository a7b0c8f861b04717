// Which environment a profile points at, so production is never mistaken for test.
import type { Environment } from "../backend/pending-types";

export function environmentOf(name: string, domain: string, demo = false): Environment {
  if (demo) return "demo";
  const s = `${name} ${domain}`.toLowerCase();
  if (/\b(dev|development|local|localhost|127\.0\.0\.1)\b/.test(s)) return "development";
  if (/\b(test|testing|qa|sandbox)\b/.test(s)) return "test";
  if (/\b(stag|staging|stage|preprod|uat)\w*/.test(s)) return "staging";
  return "production";
}

export const ENV_LABEL: Record<Environment, string> = {
  production: "PRODUCTION",
  staging: "STAGING",
  development: "DEV",
  test: "TEST",
  demo: "DEMO",
};
