// Environment badges, so that production is never mistaken for test. A profile's environment
// is stored with it (Rust `Environment`); `guessEnvironment` only pre-fills the Connect form.
import type { Environment } from "../backend/ipc-types";

export function guessEnvironment(name: string, domain: string): Environment {
  const s = `${name} ${domain}`.toLowerCase();
  if (/\b(dev|development|local|localhost|127\.0\.0\.1)\b/.test(s)) return "development";
  if (/\b(test|testing|qa|stag|staging|stage|preprod|uat)\w*/.test(s)) return "staging";
  return "production";
}

export const ENV_LABEL: Record<Environment, string> = {
  production: "PRODUCTION",
  staging: "STAGING",
  development: "DEV",
  demo: "DEMO",
};
