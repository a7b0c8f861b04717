// The Tauri implementation of `Backend`: thin calls to the generated command wrappers.
import { Channel } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import * as cmd from "./commands";
import type { Backend, SyncHandle } from "./types";
import type { SyncProgress, SyncState } from "./ipc-types";

export const tauriBackend: Backend = {
  appStatus: () => cmd.appStatus(),
  profileAdd: (input) => cmd.profileAdd(input),
  profileSelect: (name) => cmd.profileSelect(name),
  profileRemove: (name) => cmd.profileRemove(name),
  profileTest: (draft) => cmd.profileTest(draft),
  demoStart: () => cmd.demoStart(),
  demoLeave: () => cmd.demoLeave(),
  settingsSet: (s) => cmd.settingsSet(s),

  keysList: (filter, offline) => cmd.keysList(filter, offline),
  keysChangedSince: (sinceRev) => cmd.keysChangedSince(sinceRev),
  keyShow: (id) => cmd.keyShow(id),
  keyCreate: (input) => cmd.keyCreate(input),
  keyRotate: (id) => cmd.keyRotate(id),
  keyReissue: (id, scopes) => cmd.keyReissue(id, scopes),
  keysRevoke: (ids) => cmd.keysRevoke(ids),

  apisList: () => cmd.apisList(),
  orgsList: (search) => cmd.orgsList(search),
  usersList: (search) => cmd.usersList(search),

  doctorKey: (input) => cmd.doctorKey(input),
  doctorConnection: () => cmd.doctorConnection(),

  sync(full, onProgress): SyncHandle {
    const channel = new Channel<SyncProgress>();
    channel.onmessage = onProgress;
    return {
      done: cmd.syncStart(full, channel),
      cancel: async () => {
        await cmd.syncCancel();
      },
    };
  },
  syncState: () => cmd.syncState(),
  keyHistory: (id, bucket, sinceDays) => cmd.keyHistory(id, bucket, sinceDays),
  insights: (days) => cmd.insights(days),
  auditList: (filter) => cmd.auditList(filter),
  migrationsList: () => cmd.migrationsList(),
  exportTo: (what, format) => cmd.exportTo(what, format),

  clipboardCopy: (text) => cmd.clipboardCopy(text),
  clipboardClear: async () => {
    await cmd.clipboardClear();
  },
  copyText: async (text) => {
    await cmd.copyText(text);
  },

  alertsList: (filter) => cmd.alertsList(filter),
  alertsAck: (ids) => cmd.alertsAck(ids),
  alertsMute: (target) => cmd.alertsMute(target),
  alertsUnmute: (target) => cmd.alertsUnmute(target),
  alertMutes: () => cmd.alertMutes(),
  notifyState: () => cmd.notifyState(),
  notifyTest: () => cmd.notifyTest(),
  about: () => cmd.about(),
  openDataFolder: () => cmd.openDataFolder(),
  policyShow: () => cmd.policyShow(),
  policySet: (policy) => cmd.policySet(policy),
  keyExpiresSet: (id, on) => cmd.keyExpiresSet(id, on),
  canaryMark: (id, canary) => cmd.canaryMark(id, canary),
  canaryCreate: (input) => cmd.canaryCreate(input),
  scanPickFolder: () => cmd.scanPickFolder(),
  scanPaths: (paths) => cmd.scanPaths(paths),
  leakRemediate: (keyId, action, found) => cmd.leakRemediate(keyId, action, found),

  async onSyncEvent(cb) {
    return listen<SyncState>("sync-state", (e) => cb(e.payload));
  },
};
