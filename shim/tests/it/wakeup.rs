//! Latency tests of the coalesced wake-ups (sql/wakeup.sql): under concurrent
//! load, no email waits longer than the sender's poll interval, whether the
//! sender was idle, busy or restarting; and the NOTIFY path itself works.
//!
//! Each scenario owns a cluster, queues emails through
//! `auth.generate_password_token` from several sessions at once, and runs the
//! real `nile-reset send` with the file transport, so that sending itself
//! costs next to nothing and what is measured is how soon the sender looks.
//! Each scenario runs alone (support/alone.rs): on a 2-core machine another
//! test's load, or its initdb, would stretch what it measures.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use nile_reset_shim::send::DEFAULT_CHANNEL;

use crate::support::alone::alone;
use crate::support::cluster::connect;
use crate::support::listen::Listener;
use crate::support::tables::{self, OUTBOX};
use crate::support::{count, scratch_dir, wait_drained, wait_for, Cluster, Sender};

/// Logged (at debug level) once the sender holds the sleep lock and is about
/// to wait: from then on, queueing an email NOTIFYs it.
const ASLEEP: &str = "asleep until notified";
const SECOND: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

/// The poll interval of the load scenarios.
const POLL: Duration = Duration::from_secs(2);

/// What a row may take beyond the poll interval, counted from the moment its
/// writer saw the commit acknowledged. The promise is "within the poll
/// interval of the sender's next look", and a look is not instantaneous: the
/// drain in progress when the row commits may have claimed just before it
/// (that batch is sent first), and after the nap the sender claims, writes
/// the .eml file and records sent_at (three round trips and a file write).
/// On this 2-core machine that measured 10-20 ms; a quarter second leaves
/// room for scheduling noise, yet is far below the second poll interval a
/// row missed by one look would need.
const SLACK: Duration = Duration::from_millis(250);

const USERS: usize = 400;
const GENERATE: &str = "SELECT created, outbox_id FROM auth.generate_password_token(
    $1, 'http://localhost:3000/', 'http://localhost:3000/r')";

/// A cluster with database `app`: the extension, 400 users, the test origin
/// trusted, and no resend interval, so that any user may be asked again.
/// The setting applies to new sessions, which is all the writers use.
async fn start_app(dir: &Path) -> (Cluster, Client) {
    let cluster = Cluster::start(dir);
    let db = cluster.database("app").await;
    db.batch_execute(
        "ALTER DATABASE app SET nile_reset.min_resend_interval = 0;
         SELECT auth.add_trusted_origin('http://localhost:3000');",
    )
    .await
    .unwrap();
    tables::add_numbered_users(&db, USERS as i32).await;
    (cluster, db)
}

/// `nile-reset send` polling every `poll`, writing .eml files into `dir`/eml.
fn start_sender(dir: &Path, log: &str, url: &str, poll: Duration, more: &[&str]) -> Sender {
    let outbox = dir.join("eml");
    let poll = format!("{}ms", poll.as_millis());
    let mut args = vec![
        "--transport",
        "file",
        "--outbox-dir",
        outbox.to_str().unwrap(),
        "--poll-interval",
        &poll,
    ];
    args.extend_from_slice(more);
    Sender::send(dir.join(log), url, &args, &[])
}

/// Waits until the sender holds the sleep lock and waits: its log ends with
/// ASLEEP (nothing is logged while it waits) and stays quiet for a while, so
/// that no wake-up is still pending that would make it drain anyway.
async fn settled_asleep(sender: &Sender) {
    wait_for(10 * SECOND, "the sender to fall asleep", || async {
        let log = sender.log_text();
        if !log.lines().last().is_some_and(|line| line.contains(ASLEEP)) {
            return None;
        }
        tokio::time::sleep(200 * MS).await;
        (sender.log_text().len() == log.len()).then_some(())
    })
    .await;
}

/// Concurrent writers: each its own session, calling
/// auth.generate_password_token for distinct users with random pauses.
struct Load {
    writers: usize,
    duration: Duration,
    /// Pause after each email, in milliseconds.
    pause_ms: Range<u64>,
}

/// An email a writer queued, and when the writer saw its commit acknowledged
/// (the row was visible by then; host clock, which is the database's too).
struct Queued {
    id: i64,
    committed: SystemTime,
}

impl Load {
    /// Starts the writers; the handle yields every email they queued.
    fn start(self, url: &str) -> tokio::task::JoinHandle<Vec<Queued>> {
        let users = Arc::new(AtomicUsize::new(0));
        let deadline = Instant::now() + self.duration;
        let writers: Vec<_> = (0..self.writers)
            .map(|_| {
                let (url, users, pause_ms) = (url.to_owned(), users.clone(), self.pause_ms.clone());
                tokio::spawn(async move { write(&url, &users, deadline, pause_ms).await })
            })
            .collect();
        tokio::spawn(async move {
            let mut queued = Vec::new();
            for writer in writers {
                queued.extend(writer.await.unwrap());
            }
            queued
        })
    }
}

/// One writer. Two calls in three commit on their own; the third runs in a
/// transaction that commits 20-200 ms later. That is the case the design
/// must get right: such a transaction holds the shared lock and skips the
/// NOTIFY, and the sender, unable to fall asleep meanwhile, must still come
/// back for the row within its poll interval.
async fn write(
    url: &str,
    users: &AtomicUsize,
    deadline: Instant,
    pause_ms: Range<u64>,
) -> Vec<Queued> {
    let mut client = connect(url).await;
    let generate = client.prepare(GENERATE).await.unwrap();
    let mut queued = Vec::new();
    while Instant::now() < deadline {
        // Distinct users, so that no two writers wait on the same token row.
        let user = users.fetch_add(1, Ordering::Relaxed) % USERS + 1;
        let email = format!("user{user}@example.com");
        let row = if rand::random_ratio(1, 3) {
            let transaction = client.transaction().await.unwrap();
            let row = transaction.query_one(&generate, &[&email]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(rand::random_range(20..200))).await;
            transaction.commit().await.unwrap();
            row
        } else {
            client.query_one(&generate, &[&email]).await.unwrap()
        };
        let committed = SystemTime::now();
        assert!(row.get::<_, bool>("created"), "no email for {email}");
        queued.push(Queued {
            id: row.get("outbox_id"),
            committed,
        });
        tokio::time::sleep(Duration::from_millis(rand::random_range(pause_ms.clone()))).await;
    }
    queued
}

/// An outbox row as the database recorded it.
struct Sent {
    id: i64,
    created: SystemTime,
    sent_at: SystemTime,
}

impl Sent {
    fn latency(&self) -> Duration {
        since(self.created, self.sent_at)
    }
}

fn since(earlier: SystemTime, later: SystemTime) -> Duration {
    later.duration_since(earlier).unwrap_or_default()
}

/// Waits until the outbox is drained, checks that exactly the queued emails
/// are there and all were sent (none dead), and returns the rows.
async fn sent_rows(db: &Client, queued: &[Queued]) -> Vec<Sent> {
    wait_drained(db, 20 * SECOND).await;
    assert_eq!(
        count(db, "dead_at IS NOT NULL").await,
        0,
        "some emails are dead"
    );
    let rows: Vec<Sent> = db
        .query(
            &format!("SELECT id, created, sent_at FROM {OUTBOX} ORDER BY id"),
            &[],
        )
        .await
        .unwrap()
        .into_iter()
        .map(|row| Sent {
            id: row.get("id"),
            created: row.get("created"),
            sent_at: row.get("sent_at"),
        })
        .collect();
    let mut ids: Vec<i64> = queued.iter().map(|q| q.id).collect();
    ids.sort_unstable();
    assert_eq!(
        rows.iter().map(|row| row.id).collect::<Vec<_>>(),
        ids,
        "the outbox does not hold exactly the queued emails"
    );
    rows
}

/// Prints count, p50, p99 and max of sent_at - created, in ms.
fn summarize(scenario: &str, rows: &[Sent], extra: &str) {
    let mut ms: Vec<u128> = rows.iter().map(|row| row.latency().as_millis()).collect();
    ms.sort_unstable();
    let percentile = |p: f64| ms[((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
    eprintln!(
        "wakeup {scenario}: {} emails, sent_at - created p50 {} ms, p99 {} ms, max {} ms{extra}",
        ms.len(),
        percentile(0.50),
        percentile(0.99),
        ms.last().unwrap()
    );
}

/// The longest wait from the writer's commit to sent_at, in ms (what the
/// load scenarios bound).
fn max_after_commit(rows: &[Sent], committed: &HashMap<i64, SystemTime>) -> u128 {
    rows.iter()
        .map(|row| since(committed[&row.id], row.sent_at).as_millis())
        .max()
        .unwrap_or(0)
}

/// Asserts that every row was sent by its deadline, listing the late ones.
fn assert_on_time(rows: &[Sent], deadline: impl Fn(&Sent) -> SystemTime) {
    let late: Vec<String> = rows
        .iter()
        .filter(|row| row.sent_at > deadline(row))
        .map(|row| {
            format!(
                "id {}: sent {} ms after created, {} ms past its deadline",
                row.id,
                row.latency().as_millis(),
                since(deadline(row), row.sent_at).as_millis()
            )
        })
        .collect();
    assert!(
        late.is_empty(),
        "{} of {} emails late:\n{}",
        late.len(),
        rows.len(),
        late.join("\n")
    );
}

fn commit_times(queued: &[Queued]) -> HashMap<i64, SystemTime> {
    queued.iter().map(|q| (q.id, q.committed)).collect()
}

/// The idle and busy scenarios' check: each row sent within POLL (+ SLACK)
/// of its commit. The commit, not `created`: a delayed-commit row is
/// invisible to the sender until then, which is the writer's doing, not the
/// sender's. For rows committed on their own the two are a WAL flush apart.
fn assert_within_poll_of_commit(scenario: &str, rows: &[Sent], queued: &[Queued], extra: &str) {
    let committed = commit_times(queued);
    let after_commit = max_after_commit(rows, &committed);
    summarize(
        scenario,
        rows,
        &format!(", max after commit {after_commit} ms{extra}"),
    );
    assert_on_time(rows, |row| committed[&row.id] + POLL + SLACK);
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_sender_sends_a_burst_within_the_poll_interval() {
    let _alone = alone();
    let dir = scratch_dir("wakeup-idle");
    let (cluster, db) = start_app(&dir).await;
    let sender = start_sender(&dir, "sender.log", &cluster.url("app"), POLL, &[]);
    settled_asleep(&sender).await;
    // Idle past one poll interval, so the burst finds a sender that has woken
    // by timeout and gone back to sleep, not one fresh from startup.
    tokio::time::sleep(POLL + 500 * MS).await;

    // ~100 emails over ~2 s.
    let queued = Load {
        writers: 4,
        duration: 2 * SECOND,
        pause_ms: 10..60,
    }
    .start(&cluster.url("app"))
    .await
    .unwrap();
    let rows = sent_rows(&db, &queued).await;

    assert!(
        rows.len() >= 50,
        "the load queued only {} emails",
        rows.len()
    );
    assert_within_poll_of_commit("idle", &rows, &queued, "");
}

#[tokio::test(flavor = "multi_thread")]
async fn busy_sender_keeps_every_email_within_the_poll_interval() {
    let _alone = alone();
    let dir = scratch_dir("wakeup-busy");
    let (cluster, db) = start_app(&dir).await;
    let sender = start_sender(&dir, "sender.log", &cluster.url("app"), POLL, &[]);
    settled_asleep(&sender).await;
    let sleeps_before = sender.log_count(ASLEEP);

    // Continuous load for 4 s: with barely a pause between emails some
    // transaction nearly always holds the shared lock, so the sender can
    // seldom fall asleep and writers mostly skip the NOTIFY.
    let started = Instant::now();
    let queued = Load {
        writers: 4,
        duration: 4 * SECOND,
        pause_ms: 0..20,
    }
    .start(&cluster.url("app"))
    .await
    .unwrap();
    let rate = queued.len() as f64 / started.elapsed().as_secs_f64();
    let rows = sent_rows(&db, &queued).await;

    assert!(
        rows.len() >= 150,
        "the load queued only {} emails",
        rows.len()
    );
    assert_within_poll_of_commit(
        "busy",
        &rows,
        &queued,
        &format!(
            ", {rate:.0} emails/s, {} sleeps",
            sender.log_count(ASLEEP) - sleeps_before
        ),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn restarted_sender_sends_every_email_within_poll_and_lease() {
    const DOWNTIME: Duration = Duration::from_millis(500);
    let _alone = alone();
    let dir = scratch_dir("wakeup-restart");
    let (cluster, db) = start_app(&dir).await;
    let url = cluster.url("app");
    // A short lease, so that the rows the killed sender held are not stuck
    // for the default minute.
    let flags = ["--lease", "1s"];
    let mut first = start_sender(
        &dir,
        "first.log",
        &url,
        POLL,
        &[&flags[..], &["--worker-id", "wakeup-first"]].concat(),
    );
    settled_asleep(&first).await;

    let started = Instant::now();
    let load = Load {
        writers: 4,
        duration: 4 * SECOND,
        pause_ms: 0..40,
    }
    .start(&url);

    // Kill it mid-batch, from 1 s into the load.
    tokio::time::sleep_until(started + SECOND).await;
    let killed_at = kill_mid_batch(&mut first, "wakeup-first", &url).await;
    let stranded: HashMap<i64, SystemTime> = db
        .query(
            &format!(
                "SELECT id, claimed_until FROM {OUTBOX}
                 WHERE claimed_by = 'wakeup-first' AND sent_at IS NULL"
            ),
            &[],
        )
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.get("id"), row.get("claimed_until")))
        .collect();
    tokio::time::sleep(DOWNTIME.saturating_sub(killed_at.elapsed().unwrap())).await;
    let restarted_at = SystemTime::now();
    let _second = start_sender(
        &dir,
        "second.log",
        &url,
        POLL,
        &[&flags[..], &["--worker-id", "wakeup-second"]].concat(),
    );

    let queued = load.await.unwrap();
    let rows = sent_rows(&db, &queued).await;
    let committed = commit_times(&queued);

    // Each row's deadline is POLL + SLACK after the moment a live sender
    // could first claim it:
    //  * a row the dead sender held: the end of its lease (no NOTIFY marks
    //    it; the second sender finds it on its next poll), and not before
    //    the restart;
    //  * a row whose deadline fell before the kill: its commit, as usual;
    //  * any other row (pending at the kill, or queued while no sender ran):
    //    its commit, but not before the restart.
    let claimable = |row: &Sent| match stranded.get(&row.id) {
        Some(&lease_end) => lease_end.max(restarted_at),
        None if committed[&row.id] + POLL + SLACK <= killed_at => committed[&row.id],
        None => committed[&row.id].max(restarted_at),
    };
    let stranded_max = rows
        .iter()
        .filter(|row| stranded.contains_key(&row.id))
        .map(|row| row.latency().as_millis())
        .max();
    summarize(
        "restart",
        &rows,
        &format!(
            ", max after commit {} ms, {} held by the killed sender (max {} ms), downtime {} ms",
            max_after_commit(&rows, &committed),
            stranded.len(),
            stranded_max.unwrap_or(0),
            since(killed_at, restarted_at).as_millis()
        ),
    );
    assert!(
        queued.iter().any(|q| q.committed < killed_at)
            && queued.iter().any(|q| q.committed > restarted_at),
        "the load did not span the restart"
    );
    assert_on_time(&rows, |row| claimable(row) + POLL + SLACK);
}

#[tokio::test(flavor = "multi_thread")]
async fn notify_wakes_a_sleeping_sender_and_nothing_else_would() {
    const EMAILS: usize = 5;
    let _alone = alone();
    let dir = scratch_dir("wakeup-notify");
    let (cluster, db) = start_app(&dir).await;
    // Polling every 30 s cannot deliver within the 1 s asserted below.
    let mut sender = start_sender(&dir, "sender.log", &cluster.url("app"), 30 * SECOND, &[]);

    let mut rows = Vec::new();
    for n in 1..=EMAILS {
        settled_asleep(&sender).await;
        let writer = connect(&cluster.url("app")).await;
        let id = queue(&writer, n).await;
        let what = format!("email {n} to be sent (it takes a NOTIFY before the 30 s poll)");
        let row = wait_for(5 * SECOND, &what, || sent(&db, id)).await;
        assert!(
            row.latency() <= SECOND,
            "email {n} took {} ms: only a NOTIFY can wake the sender that soon",
            row.latency().as_millis()
        );
        rows.push(row);
        tokio::time::sleep(300 * MS).await;
    }
    summarize("notify", &rows, "");

    // The converse, so that the check above can fail: without wake-ups the
    // sleeping sender does not see the same kind of email within 1 s.
    db.batch_execute("ALTER DATABASE app SET nile_reset.wakeups = off")
        .await
        .unwrap();
    settled_asleep(&sender).await;
    let writer = connect(&cluster.url("app")).await; // sees the new setting
    let unannounced = queue(&writer, EMAILS + 1).await;
    tokio::time::sleep(1500 * MS).await;
    assert!(
        sent(&db, unannounced).await.is_none(),
        "sent without a NOTIFY within 1.5 s: something other than the wake-up delivers fast"
    );
    // It was only waiting: the next NOTIFY wakes the sender, which sends both.
    db.batch_execute("ALTER DATABASE app SET nile_reset.wakeups = on")
        .await
        .unwrap();
    let writer = connect(&cluster.url("app")).await;
    let announced = queue(&writer, EMAILS + 2).await;
    for id in [unannounced, announced] {
        wait_for(SECOND, "the next wake-up to send both", || sent(&db, id)).await;
    }

    sender.terminate();
    assert!(
        sender
            .wait_exit(5 * SECOND)
            .await
            .is_some_and(|status| status.success()),
        "the sender did not stop cleanly"
    );
}

/// How many sessions the sender has open (it names them so; the test's
/// sessions keep the default name).
const SENDER_SESSIONS: &str =
    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'nile-reset send'";

/// Kills `sender` (worker id `worker`) while it holds claims it has not
/// recorded as sent, so that those rows must wait for their lease to end.
/// A batch may take only milliseconds, so the rows caught held are locked
/// as well: the sender cannot record them before it dies. Returns, once none
/// of its sessions remains, when the sender stopped serving the outbox (the
/// freeze, just before the kill).
async fn kill_mid_batch(sender: &mut Sender, worker: &str, url: &str) -> SystemTime {
    let catcher = connect(url).await;
    // It drains at least once per poll interval.
    let give_up = Instant::now() + 2 * POLL;
    let frozen_at = loop {
        let probed_at = SystemTime::now();
        catcher.batch_execute("BEGIN").await.unwrap();
        let held = catcher
            .query(
                &format!(
                    "SELECT id FROM {OUTBOX}
                     WHERE claimed_by = $1 AND sent_at IS NULL FOR UPDATE"
                ),
                &[&worker],
            )
            .await;
        // The probe locks the batch's rows in its own order while the
        // sender records them as sent in its order: when the two deadlock,
        // PostgreSQL may pick the probe, which then just probes again.
        let held = match held {
            Err(error) if error.code() == Some(&SqlState::T_R_DEADLOCK_DETECTED) => Vec::new(),
            held => held.unwrap(),
        };
        if !held.is_empty() {
            break probed_at;
        }
        catcher.batch_execute("ROLLBACK").await.unwrap();
        assert!(Instant::now() < give_up, "{worker} never held a claim");
        tokio::time::sleep(2 * MS).await;
    };
    sender.kill9();
    // Its idle sessions end as soon as the server sees the sockets close. One
    // waiting for our row locks would not: its request to record a row as
    // sent left before the kill, and it would carry it out once we let go.
    // End it as if it had been idle.
    catcher
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = 'nile-reset send'",
        )
        .await
        .unwrap();
    // Counted from another session: pg_stat_activity stays frozen within a
    // transaction.
    let watcher = connect(url).await;
    wait_for(
        5 * SECOND,
        "the killed sender's sessions to end",
        || async {
            let sessions: i64 = watcher
                .query_one(SENDER_SESSIONS, &[])
                .await
                .unwrap()
                .get(0);
            (sessions == 0).then_some(())
        },
    )
    .await;
    catcher.batch_execute("ROLLBACK").await.unwrap();
    frozen_at
}

/// Queues a reset email for user `n`; its outbox id.
async fn queue(writer: &Client, n: usize) -> i64 {
    let row = writer
        .query_one(GENERATE, &[&format!("user{n}@example.com")])
        .await
        .unwrap();
    assert!(row.get::<_, bool>("created"));
    row.get("outbox_id")
}

/// The row once sent.
async fn sent(db: &Client, id: i64) -> Option<Sent> {
    let row = db
        .query_one(
            &format!("SELECT created, sent_at FROM {OUTBOX} WHERE id = $1"),
            &[&id],
        )
        .await
        .unwrap();
    Some(Sent {
        id,
        created: row.get("created"),
        sent_at: row.get::<_, Option<SystemTime>>("sent_at")?,
    })
}

/// The simple contract survives the coalescing: a session that only
/// LISTENs (no sleep lock, no presence lock) hears every commit that queued
/// email while `nile-reset send` sleeps, nothing for a rollback, and again
/// every commit once the sender has stopped.
#[tokio::test(flavor = "multi_thread")]
async fn a_plain_listener_is_notified_while_the_sender_sleeps_and_after_it_stops() {
    let _alone = alone();
    let dir = scratch_dir("wakeup-plain-listener");
    let (cluster, db) = start_app(&dir).await;
    let url = cluster.url("app");
    let mut sender = start_sender(&dir, "sender.log", &url, 30 * SECOND, &[]);
    let mut listener = Listener::start(&url, DEFAULT_CHANNEL).await;
    let writer = connect(&url).await;

    for n in 1..=3 {
        settled_asleep(&sender).await;
        let id = queue(&writer, n).await;
        assert_eq!(
            listener.next(2 * SECOND).await,
            Some(id.to_string()),
            "email {n}: the plain listener heard nothing while the sender slept"
        );
        wait_for(5 * SECOND, "the sender to send it too", || sent(&db, id)).await;
    }

    settled_asleep(&sender).await;
    writer.batch_execute("BEGIN").await.unwrap();
    queue(&writer, 4).await;
    writer.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(listener.next(SECOND).await, None, "notified of a rollback");

    sender.terminate();
    assert!(
        sender
            .wait_exit(5 * SECOND)
            .await
            .is_some_and(|status| status.success()),
        "the sender did not stop cleanly"
    );
    let id = queue(&writer, 5).await;
    assert_eq!(
        listener.next(2 * SECOND).await,
        Some(id.to_string()),
        "no notification once the sender had stopped"
    );
}
