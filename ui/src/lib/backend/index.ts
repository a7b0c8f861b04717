import { tauriBackend } from "./tauri";
import type { Backend } from "./types";

export * from "./types";

/** The one back end the app talks to. Tests construct screens' logic with their own. */
export const backend: Backend = tauriBackend;
