import { mount } from "svelte";
import "./app.css";
import App from "./App.svelte";

// The CSP (src-tauri/tauri.conf.json) allows no inline style or script. Every violation is kept
// here, where the e2e suite asserts there are none, and logged to the console.
const cspViolations: string[] = [];
(window as unknown as { __keywardCspViolations: string[] }).__keywardCspViolations = cspViolations;
document.addEventListener("securitypolicyviolation", (e) => {
  const what = `${e.effectiveDirective} blocked ${e.blockedURI || "inline"} (${e.sourceFile || "?"}:${e.lineNumber})`;
  cspViolations.push(what);
  console.warn(`CSP: ${what}`);
});

const target = document.getElementById("app");
if (!target) throw new Error("missing #app");
export default mount(App, { target });
