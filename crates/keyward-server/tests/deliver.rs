//! Delivery against real receivers (axum on 127.0.0.1:0, checking signatures and shapes) and a
//! real PostgreSQL (one throwaway cluster for this binary, a fresh database per test): signed
//! and delivered once, retried after failures with every attempt logged, a 429's Retry-After
//! honoured, Slack's shape, given up when too old, and two replicas claiming the same outbox
//! without sending anything twice.

mod receivers;
mod support;

use std::time::Duration;

use chrono::Utc;
use keyward_core::model::alert::{Alert, AlertKind, Severity};
use keyward_core::secret::Secret;
use keyward_server::config::{DeliveryConfig, Destination, DestinationKind, Filter, WebhookSecret};
use keyward_server::deliver::{Deliverer, Round, message_id};
use keyward_server::pg;
use receivers::{Kind, Receiver};
use serde_json::json;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OLD_SECRET: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// A fresh, migrated database: its URL and its name (for `psql`). (The `postgres` client
/// blocks: off the async threads.)
fn fresh() -> (String, String) {
    let url = support::fresh_db();
    let u = url.clone();
    std::thread::spawn(move || pg::migrate(&u).unwrap())
        .join()
        .unwrap();
    let name = url.rsplit('/').next().unwrap().to_string();
    (url, name)
}

fn sql(db: &str, q: &str) -> String {
    support::cluster().psql(db, q).unwrap()
}

fn secret(s: &str) -> WebhookSecret {
    WebhookSecret::parse("test", &Secret::new(s)).unwrap()
}

fn webhook(name: &str, url: &str, previous: bool) -> Destination {
    Destination {
        name: name.into(),
        kind: DestinationKind::Webhook {
            url: url.parse().unwrap(),
            secret: secret(SECRET),
            previous: previous.then(|| secret(OLD_SECRET)),
        },
        filter: Filter::default(),
    }
}

fn slack(name: &str, url: &str) -> Destination {
    Destination {
        name: name.into(),
        kind: DestinationKind::Slack {
            url: Secret::new(url),
        },
        filter: Filter::default(),
    }
}

fn config(retry_base: Duration) -> DeliveryConfig {
    DeliveryConfig {
        retry_base,
        give_up_after: Duration::from_secs(3600),
        timeout: Duration::from_secs(10),
    }
}

fn alert(id: i64, kind: AlertKind, severity: Severity) -> Alert {
    Alert {
        id,
        kind,
        severity,
        key_id: Some(format!("api_key_{id:032x}")),
        key_name: Some(format!("Key {id}")),
        at: Utc::now(),
        message: format!("alert {id}: {}", kind.as_str()),
        evidence: json!({"ip": "203.0.113.7", "verifications": 42}),
        acknowledged_at: None,
        muted: false,
    }
}

async fn deliverer(
    url: &str,
    replica: &str,
    dests: Vec<Destination>,
    cfg: DeliveryConfig,
) -> Deliverer {
    let u = url.to_string();
    let pool = tokio::task::spawn_blocking(move || pg::pool(&u))
        .await
        .unwrap()
        .unwrap();
    // Never dropped: the last pool handle would close its `postgres` clients on an async
    // thread (which panics); the process's exit closes them.
    std::mem::forget(pool.clone());
    Deliverer::new(pool, "server", replica, dests, cfg, None)
}

async fn queue(d: &Deliverer, alerts: &[Alert]) -> u64 {
    let mut items = Vec::new();
    for a in alerts {
        items.extend(d.items_for(a, None).unwrap());
    }
    let last = alerts.iter().map(|a| a.id).max().unwrap_or(0);
    d.queue(items, last, None).await.unwrap()
}

/// Delivers until nothing is pending (at most `rounds` rounds), sleeping until the next retry.
async fn drain(d: &Deliverer, rounds: usize) -> Round {
    let mut total = Round::default();
    for _ in 0..rounds {
        let r = d.deliver_due(None, |_, _| {}).await.unwrap();
        total.delivered += r.delivered;
        total.retried += r.retried;
        total.failed += r.failed;
        match d.next_due().await.unwrap() {
            None => break,
            Some(at) => {
                let wait = (at - Utc::now()).to_std().unwrap_or_default();
                tokio::time::sleep(wait.min(Duration::from_secs(5)) + Duration::from_millis(20))
                    .await;
            }
        }
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_is_signed_twice_while_rotating_and_delivered_once() {
    let (url, db) = fresh();
    // The receiver verifies with both the new and the old secret.
    let rx = Receiver::start(
        Kind::Webhook,
        vec![
            secret(SECRET).key().to_vec(),
            secret(OLD_SECRET).key().to_vec(),
        ],
        vec![],
    )
    .await;
    let d = deliverer(
        &url,
        "replica-a",
        vec![webhook("ops", &rx.url(), true)],
        config(Duration::from_millis(50)),
    )
    .await;
    let a = alert(1, AlertKind::CanaryTripped, Severity::Critical);
    assert_eq!(queue(&d, std::slice::from_ref(&a)).await, 1);
    // Queued again (another sync, another replica): nothing new.
    assert_eq!(queue(&d, std::slice::from_ref(&a)).await, 0);
    let r = drain(&d, 5).await;
    assert_eq!(r.delivered, 1, "{r:?}");
    // Nothing left to send: another round sends nothing.
    let r = drain(&d, 2).await;
    assert_eq!(r, Round::default());

    let got = rx.received();
    assert_eq!(got.len(), 1, "{got:?}");
    let g = &got[0];
    assert!(g.valid, "{:?}", g.problem);
    assert_eq!(
        g.signatures, 2,
        "the current and the previous secret's signatures"
    );
    assert_eq!(
        g.id.as_deref(),
        Some(message_id("server", 1, "ops").as_str())
    );
    assert_eq!(g.body["type"], "keyward.alert.raised");
    assert_eq!(g.body["data"]["alert"]["kind"], "canary_tripped");
    assert_eq!(g.body["data"]["alert"]["severity"], "critical");
    assert_eq!(g.body["data"]["alert"]["key_name"], "Key 1");
    assert_eq!(
        sql(&db, "SELECT status || ' ' || attempts FROM deliveries"),
        "delivered 1"
    );
    assert_eq!(sql(&db, "SELECT status_code FROM delivery_attempts"), "200");
    rx.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_three_times_then_200_is_delivered_once_with_four_attempts_logged() {
    let (url, db) = fresh();
    let rx = Receiver::start(
        Kind::Webhook,
        vec![secret(SECRET).key().to_vec()],
        vec![(500, None), (502, None), (500, None)],
    )
    .await;
    let d = deliverer(
        &url,
        "replica-a",
        vec![webhook("ops", &rx.url(), false)],
        config(Duration::from_millis(50)),
    )
    .await;
    queue(&d, &[alert(5, AlertKind::Spike, Severity::High)]).await;
    let r = drain(&d, 20).await;
    assert_eq!((r.retried, r.delivered, r.failed), (3, 1, 0), "{r:?}");

    let got = rx.received();
    assert_eq!(got.len(), 4, "{got:?}");
    assert!(got.iter().all(|g| g.valid), "{got:?}");
    let answered: Vec<u16> = got.iter().map(|g| g.answered).collect();
    assert_eq!(answered, [500, 502, 500, 200]);
    // The same webhook-id on every attempt: a receiver deduplicates by it.
    assert!(got.iter().all(|g| g.id == got[0].id));
    assert_eq!(
        sql(
            &db,
            "SELECT string_agg(coalesce(status_code::text, '-'), ',' ORDER BY id) FROM delivery_attempts"
        ),
        "500,502,500,200"
    );
    assert_eq!(
        sql(
            &db,
            "SELECT count(*) FROM delivery_attempts WHERE error IS NOT NULL AND status_code <> 200"
        ),
        "3"
    );
    assert_eq!(
        sql(
            &db,
            "SELECT status || ' ' || attempts || ' ' || (delivered_at IS NOT NULL) FROM deliveries"
        ),
        "delivered 4 true"
    );
    // Delivered rows are never sent again.
    drain(&d, 2).await;
    assert_eq!(rx.received().len(), 4);
    rx.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_retry_after_is_honoured() {
    let (url, db) = fresh();
    let rx = Receiver::start(
        Kind::Webhook,
        vec![secret(SECRET).key().to_vec()],
        vec![(429, Some("1"))],
    )
    .await;
    // The backoff alone would wait an hour: only the Retry-After brings the retry in a second.
    let d = deliverer(
        &url,
        "replica-a",
        vec![webhook("ops", &rx.url(), false)],
        config(Duration::from_secs(3600)),
    )
    .await;
    queue(&d, &[alert(9, AlertKind::NewIp, Severity::Medium)]).await;
    let r = d.deliver_due(None, |_, _| {}).await.unwrap();
    assert_eq!(r.retried, 1);
    // The next attempt is set one second after the 429 (not the hour of the backoff).
    let gap = sql(
        &db,
        "SELECT extract(epoch FROM d.next_attempt_at - a.at) FROM deliveries d \
         JOIN delivery_attempts a ON a.delivery_id = d.id",
    );
    let gap: f64 = gap.parse().unwrap();
    assert!(
        (0.9..60.0).contains(&gap),
        "next attempt {gap} s after the 429"
    );
    let r = drain(&d, 5).await;
    assert_eq!(r.delivered, 1, "{r:?}");
    let answered: Vec<u16> = rx.received().iter().map(|g| g.answered).collect();
    assert_eq!(answered, [429, 200]);
    assert_eq!(
        sql(
            &db,
            "SELECT string_agg(status_code::text, ',' ORDER BY id) FROM delivery_attempts"
        ),
        "429,200"
    );
    rx.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_gets_block_kit_and_filters_apply() {
    let (url, db) = fresh();
    let rx = Receiver::start(Kind::Slack, vec![], vec![]).await;
    let mut only_high = slack("slack", &rx.url());
    only_high.filter = Filter {
        min_severity: Severity::High,
        kinds: vec![AlertKind::CanaryTripped, AlertKind::Spike],
    };
    let d = deliverer(
        &url,
        "replica-a",
        vec![only_high],
        config(Duration::from_millis(50)),
    )
    .await;
    let queued = queue(
        &d,
        &[
            alert(1, AlertKind::CanaryTripped, Severity::Critical),
            alert(2, AlertKind::Spike, Severity::Medium),
            alert(3, AlertKind::Stale, Severity::High),
            alert(4, AlertKind::Spike, Severity::High),
        ],
    )
    .await;
    assert_eq!(
        queued, 2,
        "only the high canary and the high spike pass the filter"
    );
    let r = drain(&d, 5).await;
    assert_eq!(r.delivered, 2);
    let got = rx.received();
    assert_eq!(got.len(), 2);
    for g in &got {
        assert!(g.valid, "{:?}", g.problem);
        assert!(g.id.is_none(), "no webhook headers to Slack");
    }
    let header = got[0].body["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(header.starts_with("CRITICAL canary_tripped"), "{header}");
    assert_eq!(
        sql(
            &db,
            "SELECT string_agg(alert_id::text, ',' ORDER BY alert_id) FROM deliveries"
        ),
        "1,4"
    );
    rx.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_is_given_up_when_too_old() {
    let (url, db) = fresh();
    let rx = Receiver::start(
        Kind::Webhook,
        vec![secret(SECRET).key().to_vec()],
        vec![(500, None); 10],
    )
    .await;
    let mut cfg = config(Duration::from_millis(400));
    cfg.give_up_after = Duration::from_millis(300);
    let d = deliverer(
        &url,
        "replica-a",
        vec![webhook("ops", &rx.url(), false)],
        cfg,
    )
    .await;
    queue(&d, &[alert(1, AlertKind::Drift, Severity::High)]).await;
    let r = drain(&d, 5).await;
    assert_eq!((r.failed, r.delivered), (1, 0), "{r:?}");
    assert_eq!(sql(&db, "SELECT status FROM deliveries"), "failed");
    assert_eq!(rx.received().len(), 1);
    rx.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_draining_one_outbox_send_each_delivery_once() {
    let (url, db) = fresh();
    let rx = Receiver::start(Kind::Webhook, vec![secret(SECRET).key().to_vec()], vec![]).await;
    let dests = || vec![webhook("ops", &rx.url(), false)];
    let a = deliverer(
        &url,
        "replica-a",
        dests(),
        config(Duration::from_millis(50)),
    )
    .await;
    let b = deliverer(
        &url,
        "replica-b",
        dests(),
        config(Duration::from_millis(50)),
    )
    .await;
    let alerts: Vec<Alert> = (1..=30)
        .map(|i| alert(i, AlertKind::NewIp, Severity::Medium))
        .collect();
    assert_eq!(queue(&a, &alerts).await, 30);
    assert_eq!(queue(&b, &alerts).await, 0, "queued once, whoever queues");
    let (ra, rb) = tokio::join!(drain(&a, 3), drain(&b, 3));
    assert_eq!(ra.delivered + rb.delivered, 30, "{ra:?} {rb:?}");
    let got = rx.received();
    let mut ids: Vec<String> = got.iter().filter_map(|g| g.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        (got.len(), ids.len()),
        (30, 30),
        "each delivery sent exactly once"
    );
    assert_eq!(sql(&db, "SELECT count(*) FROM delivery_attempts"), "30");
    println!(
        "replica a sent {}, replica b sent {} ({})",
        ra.delivered,
        rb.delivered,
        sql(
            &db,
            "SELECT string_agg(replica || '=' || n, ' ') FROM (SELECT replica, count(*) n FROM delivery_attempts GROUP BY replica ORDER BY replica) s"
        )
    );
    rx.stop();
}
