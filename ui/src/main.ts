// Start-up marks (`kw:script`, `kw:mounted`, `kw:status`, `kw:counts`, `kw:rows`, then the
// table's `keyward:table-painted`): the page's own clock of where its start-up goes, read by the
// start-up probe beside the IPC timings of KEYWARD_TRACE_IPC=1.
import { mount } from "svelte";
import "./app.css";
import App from "./App.svelte";

// The app's modules are evaluated (imports run first).
performance.mark("kw:script");

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
const app = mount(App, { target });
performance.mark("kw:mounted");
export default app;
