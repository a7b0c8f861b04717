// Every type that crosses IPC, re-exported in one place for the generated command wrappers
// (`commands.ts`). Generated types come from ../bindings (ts-rs); the few not generated yet
// come from ./pending-types until they land.

export type { Api } from "../bindings/Api";
export type { ApiKey } from "../bindings/ApiKey";
export type { Error } from "../bindings/Error";
export type { ErrorCode } from "../bindings/ErrorCode";
export type { KeyFilter } from "../bindings/KeyFilter";
export type { KeyStatus } from "../bindings/KeyStatus";
export type { KeyType } from "../bindings/KeyType";
export type { KeyView } from "../bindings/KeyView";
export type { OneTimeSecret } from "../bindings/OneTimeSecret";
export type { Org } from "../bindings/Org";
export type { Owner } from "../bindings/Owner";
export type { Scope } from "../bindings/Scope";
export type { User } from "../bindings/User";
export type { VerifyResult } from "../bindings/VerifyResult";
export type * from "./pending-types";
export type { CreateKeyInput as CreateKeyRequest } from "./types";
