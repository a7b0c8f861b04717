// Open alerts (unacknowledged, unmuted) and the keys' local marks (canary, expires on): the
// navigation's counts and the badges in the keys table and the key detail.
import * as backend from "../backend/commands";
import type { Alert, KeyMeta } from "../backend/commands";
import { alertsByKey, type KeyAlerts } from "../logic/alerts";

class Alerts {
  /** Newest first. Reassigned by every refresh: the Alerts screen reloads its own (filtered)
   * list when it changes. */
  list = $state.raw<Alert[]>([]);
  open = $state(0);
  high = $state(0);
  /** Open alerts per key. */
  byKey = $derived<Map<string, KeyAlerts>>(alertsByKey(this.list));
  /** Local marks per key: canary, expires on. */
  metas = $state.raw<Map<string, KeyMeta>>(new Map());

  reset(): void {
    this.list = [];
    this.open = 0;
    this.high = 0;
    this.metas = new Map();
  }

  /** Reloads the open alerts and the keys' local marks (after a sync, an ack or a mute). */
  async refresh(): Promise<void> {
    try {
      const [list, policy] = await Promise.all([
        backend.alertsList({ since: null, kind: null, key_id: null, include_acknowledged: false, include_muted: false, limit: 5000 }),
        backend.policyShow(),
      ]);
      this.list = list.alerts;
      this.open = list.open_total;
      this.high = list.open_high;
      this.metas = new Map(policy.keys.map((m) => [m.key_id, m]));
    } catch {
      /* no store yet (first open before a sync): the counts stay as they were */
    }
  }

  patchMeta(m: KeyMeta): void {
    const next = new Map(this.metas);
    next.set(m.key_id, m);
    this.metas = next;
  }
}

export const alerts = new Alerts();
