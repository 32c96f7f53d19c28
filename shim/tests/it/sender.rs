//! End-to-end tests of `nile-reset send`: the real binary, a real PostgreSQL
//! cluster with the installed extension, a real SMTP server
//! (tests/smtp_sink.py), and faults injected by killing and restarting them.
//! Most tests own a cluster (every one that stops or restarts PostgreSQL);
//! the others share one.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use nile_reset_shim::send::DEFAULT_CHANNEL;

use crate::support::cluster::replace_function;
use crate::support::tables::{self, OUTBOX, TEMPLATES, TEMPLATE_VARIABLES, USERS};
use crate::support::{
    count, ports, queue_email, queue_emails, received_in, run_to_exit, scratch_dir, wait_drained,
    wait_for, Cluster, Received, Sender, Sink,
};

const LISTENING: &str = "listening for outbox notifications";
/// Logged (at debug level) once the sender holds the sleep lock: from then
/// on, queueing an email NOTIFYs it.
const ASLEEP: &str = "asleep until notified";
const SECOND: Duration = Duration::from_secs(1);

/// Sender flags for fast tests: quick polls and retries.
const FAST: &[&str] = &["--poll-interval", "200ms", "--retry-base", "100ms"];

fn args<'a>(base: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(more).copied().collect()
}

/// The fast flags, delivery over SMTP to `smtp_url`, then `more`.
fn fast_smtp<'a>(smtp_url: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let smtp = ["--transport", "smtp", "--smtp-url", smtp_url];
    args(&args(FAST, &smtp), more)
}

/// `nile-reset send` on database `app`, logging to `dir`/sender.log.
fn start_sender(dir: &std::path::Path, cluster: &Cluster, flags: &[&str]) -> Sender {
    Sender::send(dir.join("sender.log"), &cluster.url("app"), flags, &[])
}

/// Recipient -> number of copies received.
fn copies(received: &[Received]) -> BTreeMap<String, usize> {
    let mut copies = BTreeMap::new();
    for message in received {
        assert_eq!(
            message.rcpt_tos.len(),
            1,
            "one recipient per message: {:?}",
            message.rcpt_tos
        );
        *copies.entry(message.rcpt_tos[0].clone()).or_default() += 1;
    }
    copies
}

/// After a relay outage: `rows` outbox rows sent with no error left and no attempt
/// spent, and `recipients` recipients at `sink`, each with exactly one copy.
async fn assert_sent_once_without_attempts(
    db: &tokio_postgres::Client,
    sink: &Sink,
    rows: i64,
    recipients: usize,
) {
    assert_eq!(
        count(
            db,
            "sent_at IS NOT NULL AND last_error IS NULL AND attempts = 0"
        )
        .await,
        rows
    );
    let copies = copies(&sink.received());
    assert_eq!(copies.len(), recipients);
    assert!(copies.values().all(|n| *n == 1), "{copies:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn delivers_a_reset_email_over_smtp_on_notify() {
    let dir = scratch_dir("sender-smtp");
    let cluster = Cluster::start(&dir);
    let db = cluster.database("app").await;
    db.batch_execute("SELECT auth.add_trusted_origin('http://localhost:3000')")
        .await
        .unwrap();
    tables::add_user(&db, "alice@example.com", Some("Alice")).await;
    let sink = Sink::start(&dir.join("mail"), 0, &["--auth", "mailer:pa55word"]);
    let password_file = dir.join("smtp-password");
    std::fs::write(&password_file, "pa55word\n").unwrap();
    let metrics_addr = format!("127.0.0.1:{}", ports::free());
    let smtp_url = sink.url();
    // A long poll interval: only the NOTIFY can deliver within the test's wait.
    let sender = Sender::send(
        dir.join("sender.log"),
        &cluster.url("app"),
        &[
            "--transport",
            "smtp",
            "--poll-interval",
            "10m",
            "--metrics-addr",
            &metrics_addr,
        ],
        &[
            ("NILE_RESET_SMTP_URL", &smtp_url),
            ("NILE_RESET_SMTP_USERNAME", "mailer"),
            (
                "NILE_RESET_SMTP_PASSWORD_FILE",
                password_file.to_str().unwrap(),
            ),
        ],
    );
    sender.wait_for_log(ASLEEP, 1, 10 * SECOND).await;

    let row = db
        .query_one(
            "SELECT created, outbox_id FROM auth.generate_password_token(
                 'alice@example.com', 'http://localhost:3000/callback', 'http://localhost:3000/reset')",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0), "no token was created");
    let outbox_id: i64 = row.get(1);
    let template_subject: String = db
        .query_one(
            &format!("SELECT subject FROM {TEMPLATES} WHERE name = 'password_reset'"),
            &[],
        )
        .await
        .unwrap()
        .get(0);

    let received = wait_for(10 * SECOND, "the reset email", || async {
        let received = sink.received();
        (!received.is_empty()).then_some(received)
    })
    .await;
    assert_eq!(received.len(), 1);
    let message = &received[0];
    assert_eq!(message.rcpt_tos, ["alice@example.com"]);
    assert_eq!(message.header("To"), ["alice@example.com"]);
    assert_eq!(message.subject, template_subject);
    let link_start = message
        .body
        .find("http://localhost:3000/reset?token=")
        .expect("no reset link in the body");
    let link = message.body[link_start..]
        .split_whitespace()
        .next()
        .unwrap();
    let token = link["http://localhost:3000/reset?token=".len()..]
        .split('&')
        .next()
        .unwrap();
    assert!(
        token.len() == 64 && token.chars().all(|c| c.is_ascii_hexdigit()),
        "odd token in {link}"
    );
    assert!(
        link.contains("identifier=alice%40example.com"),
        "no identifier in {link}"
    );

    wait_for(5 * SECOND, "the row to be marked sent", || async {
        let row = db
            .query_one(
                &format!("SELECT sent_at IS NOT NULL, body IS NULL FROM {OUTBOX} WHERE id = $1"),
                &[&outbox_id],
            )
            .await
            .unwrap();
        (row.get::<_, bool>(0) && row.get::<_, bool>(1)).then_some(())
    })
    .await;

    let metrics = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("nile_reset_emails_sent_total{kind=\"password_reset\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("nile_reset_outbox_pending 0"), "{metrics}");
    assert!(metrics.contains("nile_reset_outbox_expired 0"), "{metrics}");
    assert!(
        metrics.contains("nile_reset_email_delivery_latency_seconds_count 1"),
        "{metrics}"
    );

    let log = sender.log_text();
    assert!(
        log.contains(&format!("id={outbox_id}")) && log.contains("outcome=\"sent\""),
        "{log}"
    );
    assert!(
        !log.contains(token) && !log.contains("localhost:3000/reset"),
        "the log shows the link:\n{log}"
    );
    assert!(!log.contains("pa55word"), "the log shows the SMTP password");
}

#[tokio::test(flavor = "multi_thread")]
async fn file_transport_writes_one_eml_per_email() {
    let dir = scratch_dir("sender-file");
    let cluster = Cluster::start(&dir);
    let db = cluster.database("app").await;
    queue_emails(&db, "file", 3).await;
    let folder = dir.join("eml");
    let _sender = Sender::send(
        dir.join("sender.log"),
        &cluster.url("app"),
        &args(FAST, &["--outbox-dir", folder.to_str().unwrap()]),
        &[],
    );

    wait_drained(&db, 10 * SECOND).await;
    assert_eq!(count(&db, "sent_at IS NOT NULL AND body IS NULL").await, 3);
    let mut files: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect();
    files.sort_by_key(|eml| {
        eml.find("To: ")
            .map(|at| eml[at..].lines().next().unwrap().to_owned())
    });
    assert_eq!(files.len(), 3, "one .eml per email");
    for (n, eml) in (1..=3).zip(&files) {
        assert!(
            eml.contains(&format!("\r\nTo: file{n}@example.com\r\n")),
            "{eml}"
        );
        assert!(
            eml.contains("From: Support <support@example.com>\r\n"),
            "{eml}"
        );
        assert!(eml.contains(&format!("reset?token=t{n}")), "{eml}");
    }
    let mode = std::fs::metadata(&folder).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the mail folder must be private");
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_batch_loses_nothing_and_duplicates_only_in_flight_rows() {
    const QUEUED: i32 = 30;
    let dir = scratch_dir("sender-kill9");
    let cluster = Cluster::start(&dir);
    let db = cluster.database("app").await;
    queue_emails(&db, "k", QUEUED).await;
    let sink = Sink::start(&dir.join("mail"), 0, &["--delay", "0.05"]);
    let smtp_url = sink.url();
    let flags = fast_smtp(
        &smtp_url,
        &["--batch-size", "10", "--concurrency", "2", "--lease", "2s"],
    );

    let mut first = Sender::send(
        dir.join("first.log"),
        &cluster.url("app"),
        &args(&flags, &["--worker-id", "kill9-first"]),
        &[],
    );
    wait_for(15 * SECOND, "a few deliveries", || async {
        (sink.received().len() >= 5).then_some(())
    })
    .await;
    first.kill9();
    let in_flight: BTreeSet<String> = db
        .query(
            &format!("SELECT recipient FROM {OUTBOX} WHERE claimed_by = 'kill9-first' AND sent_at IS NULL"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(!in_flight.is_empty(), "the kill did not happen mid-batch");

    let _second = Sender::send(
        dir.join("second.log"),
        &cluster.url("app"),
        &args(&flags, &["--worker-id", "kill9-second"]),
        &[],
    );
    wait_drained(&db, 20 * SECOND).await;
    assert_eq!(count(&db, "sent_at IS NOT NULL").await, i64::from(QUEUED));

    let copies = copies(&sink.received());
    let delivered: usize = copies.values().sum();
    let duplicated: BTreeSet<&String> = copies
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(r, _)| r)
        .collect();
    eprintln!(
        "kill9: queued={QUEUED} delivered_unique={} duplicates={} in_flight_at_kill={}",
        copies.len(),
        delivered - copies.len(),
        in_flight.len()
    );
    assert_eq!(copies.len(), QUEUED as usize, "every email is delivered");
    assert!(
        copies.values().all(|n| *n <= 2),
        "an email was delivered more than twice: {copies:?}"
    );
    assert!(
        duplicated.iter().all(|r| in_flight.contains(*r)),
        "duplicates {duplicated:?} were not in flight {in_flight:?}"
    );
}

/// An SMTP outage of any length loses nothing and spends no attempt. The
/// clocks are shortened: the relay backoff starts at 100 ms and stops
/// doubling at 2 s (5 min by default), and the relay stays down for 25 s,
/// over a dozen capped periods, as 10 minutes would be at the defaults. With
/// --max-attempts 2, a single spent attempt per email would not kill it,
/// but two would: every email must end sent, once, with no attempt counted.
#[tokio::test(flavor = "multi_thread")]
async fn an_smtp_outage_defers_without_spending_attempts() {
    let dir = scratch_dir("sender-smtp-outage");
    let cluster = Cluster::start(&dir);
    let db = cluster.database("app").await;
    queue_emails(&db, "before", 10).await;
    // Where the SMTP server appears once the outage is over.
    let port = ports::free();
    let smtp_url = format!("smtp://127.0.0.1:{port}");
    let sender = start_sender(
        &dir,
        &cluster,
        &fast_smtp(
            &smtp_url,
            &[
                "--max-attempts",
                "2",
                "--relay-retry-max",
                "2s",
                "--smtp-timeout",
                "2s",
            ],
        ),
    );

    // Nothing listens on the port. The pause between probes grows while the
    // outage lasts.
    sender.wait_for_log("retry_in=2s", 1, 15 * SECOND).await;
    let log = sender.log_text();
    for delay in ["retry_in=100ms", "retry_in=200ms", "retry_in=400ms"] {
        assert!(log.contains(delay), "no {delay} in:\n{log}");
    }
    queue_emails(&db, "during", 10).await;
    tokio::time::sleep(20 * SECOND).await;
    let probes = sender.log_count("the SMTP relay still cannot be reached");
    assert!(probes >= 10, "only {probes} probes in 25 s");
    // The outage is the relay's state: the emails queued during it are not
    // claimed, so not tried, one by one.
    let deferrals = sender.log_count("outcome=\"deferred\"");
    assert!(deferrals <= 2, "{deferrals} deferrals");
    assert_eq!(count(&db, "attempts > 0").await, 0, "an attempt was spent");
    assert_eq!(
        count(&db, "dead_at IS NOT NULL OR sent_at IS NOT NULL").await,
        0
    );
    assert_eq!(count(&db, "last_error IS NOT NULL").await, 10);

    let sink = Sink::start(&dir.join("mail"), port, &[]);
    wait_drained(&db, 15 * SECOND).await;
    assert_sent_once_without_attempts(&db, &sink, 20, 20).await;
}

/// The relay goes away for 20 s under a long --relay-retry-max. The emails
/// deferred meanwhile wait for the relay, not each for a delay of its own:
/// every one of them arrives within 10 s of the relay's return, once, and
/// without an attempt spent.
#[tokio::test(flavor = "multi_thread")]
async fn emails_deferred_by_an_outage_go_out_once_the_relay_returns() {
    let dir = scratch_dir("sender-relay-returns");
    let cluster = Cluster::start(&dir);
    let db = cluster.database("app").await;
    let sink = Sink::start(&dir.join("mail"), ports::free(), &[]);
    let port = sink.port;
    let smtp_url = sink.url();
    let sender = start_sender(
        &dir,
        &cluster,
        &fast_smtp(
            &smtp_url,
            &["--relay-retry-max", "5m", "--smtp-timeout", "2s"],
        ),
    );
    queue_emails(&db, "before", 3).await;
    wait_drained(&db, 15 * SECOND).await;

    sink.stop();
    let outage = tokio::time::Instant::now();
    queue_emails(&db, "early", 10).await;
    sender
        .wait_for_log("outcome=\"deferred\"", 1, 15 * SECOND)
        .await;
    // Emails queued late in the outage, when a per-email delay would have
    // grown longest.
    tokio::time::sleep_until(outage + 17 * SECOND).await;
    queue_emails(&db, "late", 10).await;
    tokio::time::sleep_until(outage + 20 * SECOND).await;
    assert_eq!(count(&db, "sent_at IS NOT NULL").await, 3);

    // Its own folder: the sink numbers its files from one again.
    let sink = Sink::start(&dir.join("mail-after"), port, &[]);
    let back = tokio::time::Instant::now();
    wait_for(10 * SECOND, "every deferred email", || async {
        (sink.received().len() >= 20).then_some(())
    })
    .await;
    eprintln!("all sent {:?} after the relay returned", back.elapsed());
    wait_drained(&db, 5 * SECOND).await;
    assert_sent_once_without_attempts(&db, &sink, 23, 20).await;
}

/// PostgreSQL goes away for longer than the lease while sends are in
/// flight. Nothing is lost, and the only emails sent twice are those whose
/// delivery could not be recorded (the sender names them when it gives up).
#[tokio::test(flavor = "multi_thread")]
async fn postgres_down_longer_than_the_lease_loses_nothing() {
    const QUEUED: i32 = 24;
    let dir = scratch_dir("sender-pg-down");
    let cluster = Cluster::start(&dir);
    let db = cluster.database("app").await;
    queue_emails(&db, "down", QUEUED).await;
    // Each DATA takes 0.3 s: sends are in flight whenever the database stops.
    let sink = Sink::start(&dir.join("mail"), 0, &["--delay", "0.3"]);
    let smtp_url = sink.url();
    let sender = start_sender(
        &dir,
        &cluster,
        &fast_smtp(
            &smtp_url,
            &["--batch-size", "8", "--concurrency", "4", "--lease", "2s"],
        ),
    );
    wait_for(15 * SECOND, "a few deliveries", || async {
        (sink.received().len() >= 3).then_some(())
    })
    .await;
    drop(db);
    cluster.stop();
    // Down for twice the lease: every claim held at the stop has expired.
    tokio::time::sleep(4 * SECOND).await;
    cluster.restart();

    let db = cluster.connect("app").await;
    wait_drained(&db, 30 * SECOND).await;
    assert_eq!(count(&db, "sent_at IS NOT NULL").await, i64::from(QUEUED));
    assert_eq!(count(&db, "attempts > 0").await, 0);

    // The ids the sender could not record, by recipient.
    let log = sender.log_text();
    let mut unrecorded = BTreeSet::new();
    for line in log.lines().filter(|line| {
        line.contains("cannot be recorded") || line.contains("no longer ours to record")
    }) {
        let ids = line
            .split("ids=[")
            .nth(1)
            .and_then(|rest| rest.split(']').next())
            .or_else(|| line.split(" id=").nth(1)?.split(' ').next())
            .unwrap_or("");
        unrecorded.extend(ids.split(", ").filter_map(|id| id.parse::<i64>().ok()));
    }
    let unrecorded: Vec<i64> = unrecorded.into_iter().collect();
    let unrecorded: BTreeSet<String> = db
        .query(
            &format!("SELECT recipient FROM {OUTBOX} WHERE id = ANY($1)"),
            &[&unrecorded],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();

    let copies = copies(&sink.received());
    let duplicated: BTreeSet<&String> = copies
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(r, _)| r)
        .collect();
    eprintln!(
        "postgres down: queued={QUEUED} delivered_unique={} duplicates={} unrecorded={}",
        copies.len(),
        copies.values().sum::<usize>() - copies.len(),
        unrecorded.len()
    );
    assert_eq!(copies.len(), QUEUED as usize, "every email is delivered");
    assert!(copies.values().all(|n| *n <= 2), "{copies:?}");
    assert!(
        duplicated.iter().all(|r| unrecorded.contains(*r)),
        "duplicates {duplicated:?} beyond the unrecorded {unrecorded:?}"
    );
}

/// A template with an HTML body arrives as multipart/alternative (text
/// first), its values HTML-escaped in the HTML part only; the template is
/// chosen by the user's locale column (pt-BR falls back to pt) and by the
/// default locale for a user without one.
#[tokio::test(flavor = "multi_thread")]
async fn html_and_localized_templates_arrive_through_smtp() {
    let dir = scratch_dir("sender-templates");
    let db = Cluster::shared().database("sender_templates").await;
    db.batch_execute(&format!(
        "CREATE TABLE public.people (
             id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             email text NOT NULL, name text, pw text, lang text);
         SELECT auth.use_user_table('public.people', 'id', 'email', 'pw', 'argon2id',
                                    name_column => 'name', locale_column => 'lang');
         SELECT auth.add_trusted_origin('http://localhost:3000');
         INSERT INTO public.people (email, name, lang) VALUES
             ('ana@example.com', 'Ana <b>&', 'pt-BR'),
             ('bob@example.com', 'Bob <i>', NULL);
         INSERT INTO {TEMPLATES} (name, locale, subject, body, html_body, sender) VALUES
             ('password_reset', 'pt', 'Redefina sua senha',
              E'Olá ${{username}},\nabra ${{api_url}}\n',
              '<p>Olá ${{username}}, <a href=\"${{api_url}}\">redefinir</a></p>',
              'Suporte <no-reply@example.com>');
         UPDATE {TEMPLATES}
            SET html_body = '<p>Hello ${{username}}: <a href=\"${{api_url}}\">reset</a></p>'
          WHERE name = 'password_reset' AND locale = 'en';"
    ))
    .await
    .unwrap();
    for email in ["ana@example.com", "bob@example.com"] {
        let created: bool = db
            .query_one(
                "SELECT created FROM auth.generate_password_token(
                     $1, 'http://localhost:3000/callback', 'http://localhost:3000/reset')",
                &[&email],
            )
            .await
            .unwrap()
            .get(0);
        assert!(created, "no token for {email}");
    }
    let sink = Sink::start(&dir.join("mail"), 0, &[]);
    let smtp_url = sink.url();
    let _sender = Sender::send(
        dir.join("sender.log"),
        &Cluster::shared().url("sender_templates"),
        &fast_smtp(&smtp_url, &[]),
        &[],
    );
    wait_drained(&db, 10 * SECOND).await;

    let received = sink.received();
    assert_eq!(received.len(), 2);
    let to = |who: &str| {
        received
            .iter()
            .find(|m| m.rcpt_tos == [who])
            .unwrap_or_else(|| panic!("nothing for {who}"))
    };
    let (ana, bob) = (to("ana@example.com"), to("bob@example.com"));
    for message in [ana, bob] {
        assert_eq!(message.content_type, "multipart/alternative");
        assert_eq!(message.parts, ["text/plain", "text/html"]);
        assert!(message.body.contains("http://localhost:3000/reset?token="));
    }
    assert_eq!(ana.subject, "Redefina sua senha");
    assert!(ana.body.contains("Olá Ana <b>&,"), "{}", ana.body);
    let html = ana.html.as_deref().unwrap();
    assert!(html.contains("Olá Ana &lt;b&gt;&amp;,"), "{html}");
    assert!(
        html.contains("<a href=\"http://localhost:3000/reset?token="),
        "{html}"
    );
    assert!(!html.contains("<b>"), "{html}");

    assert_eq!(bob.subject, "Reset your password");
    let html = bob.html.as_deref().unwrap();
    assert!(html.starts_with("<p>Hello Bob &lt;i&gt;:"), "{html}");
    assert!(bob.body.contains("Bob <i>"), "{}", bob.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_restart_under_the_sender_is_survived() {
    let dir = scratch_dir("sender-pg-restart");
    let cluster = Cluster::start(&dir);
    let db = cluster.database("app").await;
    let sink = Sink::start(&dir.join("mail"), 0, &[]);
    let smtp_url = sink.url();
    // Polls are rare: after the restart, only a re-established LISTEN can
    // bring the next emails out in time.
    let sender = Sender::send(
        dir.join("sender.log"),
        &cluster.url("app"),
        &[
            "--transport",
            "smtp",
            "--smtp-url",
            &smtp_url,
            "--poll-interval",
            "10m",
        ],
        &[],
    );
    sender.wait_for_log(ASLEEP, 1, 10 * SECOND).await;
    queue_emails(&db, "before", 2).await;
    db.batch_execute(&format!("NOTIFY {DEFAULT_CHANNEL}"))
        .await
        .unwrap();
    wait_for(
        10 * SECOND,
        "the emails queued before the restart",
        || async { (sink.received().len() == 2).then_some(()) },
    )
    .await;
    drop(db);

    cluster.stop();
    tokio::time::sleep(SECOND).await;
    cluster.restart();
    sender
        .wait_for_log_after(LISTENING, 2, ASLEEP, 20 * SECOND)
        .await;

    let db = cluster.connect("app").await;
    queue_emails(&db, "after", 2).await;
    db.batch_execute(&format!("NOTIFY {DEFAULT_CHANNEL}"))
        .await
        .unwrap();
    wait_drained(&db, 10 * SECOND).await;
    let copies = copies(&sink.received());
    let expected: Vec<&str> = vec![
        "after1@example.com",
        "after2@example.com",
        "before1@example.com",
        "before2@example.com",
    ];
    assert_eq!(
        copies.keys().map(String::as_str).collect::<Vec<_>>(),
        expected
    );
    assert!(copies.values().all(|n| *n == 1), "{copies:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_senders_share_an_outbox_without_double_sends() {
    const QUEUED: i32 = 60;
    let dir = scratch_dir("sender-pair");
    let cluster = Cluster::start(&dir);
    let db = cluster.database("app").await;
    let sink = Sink::start(&dir.join("mail"), 0, &["--delay", "0.01"]);
    let smtp_url = sink.url();
    let flags = fast_smtp(&smtp_url, &["--batch-size", "5", "--concurrency", "2"]);
    let a = Sender::send(
        dir.join("a.log"),
        &cluster.url("app"),
        &args(&flags, &["--worker-id", "pair-a"]),
        &[],
    );
    let b = Sender::send(
        dir.join("b.log"),
        &cluster.url("app"),
        &args(&flags, &["--worker-id", "pair-b"]),
        &[],
    );
    a.wait_for_log(LISTENING, 1, 10 * SECOND).await;
    b.wait_for_log(LISTENING, 1, 10 * SECOND).await;

    // One transaction and one notification: both senders wake up at once.
    db.batch_execute("BEGIN").await.unwrap();
    queue_emails(&db, "pair", QUEUED).await;
    db.batch_execute(&format!("NOTIFY {DEFAULT_CHANNEL}; COMMIT"))
        .await
        .unwrap();
    wait_drained(&db, 20 * SECOND).await;

    let copies = copies(&sink.received());
    let (sent_by_a, sent_by_b) = (
        a.log_count("outcome=\"sent\""),
        b.log_count("outcome=\"sent\""),
    );
    eprintln!(
        "two senders: queued={QUEUED} delivered={} by_a={sent_by_a} by_b={sent_by_b}",
        copies.values().sum::<usize>()
    );
    assert_eq!(copies.len(), QUEUED as usize);
    assert!(copies.values().all(|n| *n == 1), "double sends: {copies:?}");
    assert_eq!(sent_by_a + sent_by_b, QUEUED as usize);
}

#[tokio::test(flavor = "multi_thread")]
async fn transient_errors_are_retried_and_permanent_ones_are_dead() {
    let dir = scratch_dir("sender-errors");
    let cluster = Cluster::start(&dir);
    let db = cluster.database("app").await;
    let body = "Hello,\nopen http://localhost:3000/reset?token=t\n";
    let sender_address = "support@example.com";
    let flaky = queue_email(&db, "flaky@example.com", sender_address, "Reset", body).await;
    let gone = queue_email(&db, "gone@example.com", sender_address, "Reset", body).await;
    let tired = queue_email(&db, "tired@example.com", sender_address, "Reset", body).await;
    let fine = queue_email(&db, "fine@example.com", sender_address, "Reset", body).await;
    let sink = Sink::start(
        &dir.join("mail"),
        0,
        &[
            "--fail",
            "flaky@example.com=451:2",
            "--fail",
            "gone@example.com=550",
            "--fail",
            "tired@example.com=452",
        ],
    );
    let smtp_url = sink.url();
    let _sender = start_sender(
        &dir,
        &cluster,
        &fast_smtp(&smtp_url, &["--max-attempts", "3"]),
    );
    wait_drained(&db, 20 * SECOND).await;

    let row = |id: i64| {
        let db = &db;
        async move {
            db.query_one(
                &format!("SELECT attempts, sent_at IS NOT NULL, dead_at IS NOT NULL, coalesce(last_error, ''), body IS NOT NULL,
                        extract(epoch FROM coalesce(sent_at, dead_at) - created)::float8
                 FROM {OUTBOX} WHERE id = $1"),
                &[&id],
            )
            .await
            .unwrap()
        }
    };
    // 451 twice, then accepted; the retries waited (100 ms, then 200 ms, each at least halved).
    let flaky = row(flaky).await;
    assert_eq!((flaky.get::<_, i32>(0), flaky.get::<_, bool>(1)), (2, true));
    assert!(
        flaky.get::<_, f64>(5) >= 0.15,
        "retried too early: {}s",
        flaky.get::<_, f64>(5)
    );
    // 550 at once: dead after one attempt, error and body kept for a requeue.
    let gone = row(gone).await;
    assert_eq!(
        (
            gone.get::<_, i32>(0),
            gone.get::<_, bool>(2),
            gone.get::<_, bool>(4)
        ),
        (1, true, true)
    );
    assert!(
        gone.get::<_, String>(3).contains("550"),
        "{}",
        gone.get::<_, String>(3)
    );
    // 452 every time: dead after --max-attempts.
    let tired = row(tired).await;
    assert_eq!((tired.get::<_, i32>(0), tired.get::<_, bool>(2)), (3, true));
    assert!(
        tired.get::<_, String>(3).contains("452"),
        "{}",
        tired.get::<_, String>(3)
    );
    let fine = row(fine).await;
    assert_eq!((fine.get::<_, i32>(0), fine.get::<_, bool>(1)), (0, true));

    let copies = copies(&sink.received());
    let expected: BTreeMap<String, usize> = [
        ("fine@example.com".to_owned(), 1),
        ("flaky@example.com".to_owned(), 1),
    ]
    .into();
    assert_eq!(copies, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn line_breaks_in_fields_never_become_headers_or_recipients() {
    let dir = scratch_dir("sender-injection");
    let cluster = Cluster::start(&dir);
    let db = cluster.database("app").await;
    let injected = "\r\nBcc: evil@example.com\r\nX-Injected: yes";
    let body = "Hello\r\n.\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<evil@example.com>\r\nDATA\r\nsmuggled\r\n.\r\n";
    queue_email(
        &db,
        "subject@example.com",
        "support@example.com",
        &format!("Reset{injected}"),
        body,
    )
    .await;
    let bad_sender = queue_email(
        &db,
        "sender@example.com",
        &format!("\"Support{injected}\" <support@example.com>"),
        "Reset",
        body,
    )
    .await;
    let bad_recipient = queue_email(
        &db,
        &format!("recipient@example.com{injected}"),
        "support@example.com",
        "Reset",
        body,
    )
    .await;
    // Through the extension: a template variable and a user name with line breaks.
    db.batch_execute(&format!(
        "SELECT auth.add_trusted_origin('http://localhost:3000');
         INSERT INTO {TEMPLATE_VARIABLES} (name, value) VALUES ('tenant_name', E'Acme{0}');
         UPDATE {TEMPLATES} SET subject = 'Reset for ${{username}} at ${{tenant_name}}' WHERE name = 'password_reset';
         INSERT INTO {USERS} (email, name) VALUES ('eve@example.com', E'Eve{0}');
         SELECT auth.generate_password_token('eve@example.com', 'http://localhost:3000/cb', 'http://localhost:3000/reset');",
        injected.replace("\r\n", "\\r\\n")
    ))
    .await
    .unwrap();
    let sink = Sink::start(&dir.join("mail"), 0, &[]);
    let smtp_url = sink.url();
    let _sender = start_sender(&dir, &cluster, &fast_smtp(&smtp_url, &[]));
    wait_drained(&db, 10 * SECOND).await;

    let mut received = sink.received();
    received.sort_by(|a, b| a.rcpt_tos.cmp(&b.rcpt_tos));
    let recipients: Vec<&str> = received
        .iter()
        .flat_map(|m| m.rcpt_tos.iter().map(String::as_str))
        .collect();
    assert_eq!(
        recipients,
        ["eve@example.com", "subject@example.com"],
        "delivered to: {recipients:?}"
    );
    for message in &received {
        let names: BTreeSet<String> = message
            .headers
            .iter()
            .map(|(name, _)| name.to_ascii_lowercase())
            .collect();
        let expected: BTreeSet<String> = [
            "content-transfer-encoding",
            "content-type",
            "date",
            "from",
            "message-id",
            "mime-version",
            "subject",
            "to",
        ]
        .map(String::from)
        .into();
        assert_eq!(
            names,
            expected,
            "unexpected headers in {}",
            message.raw_head()
        );
        assert_eq!(message.header("Subject").len(), 1);
        assert!(
            !message.subject.contains('\n') && !message.subject.contains('\r'),
            "{:?}",
            message.subject
        );
    }
    assert!(
        received[0].subject.starts_with("Reset for Eve"),
        "{}",
        received[0].subject
    );
    assert!(
        received[1].body.contains("RCPT TO:<evil@example.com>"),
        "the smuggling attempt stays in the body"
    );

    let dead: Vec<(i64, String)> = db
        .query(
            &format!("SELECT id, last_error FROM {OUTBOX} WHERE dead_at IS NOT NULL ORDER BY id"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(
        dead,
        [
            (bad_sender, "invalid sender address".to_owned()),
            (bad_recipient, "invalid recipient address".to_owned())
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn utf8_subject_and_names_are_encoded() {
    let dir = scratch_dir("sender-utf8");
    let cluster = Cluster::start(&dir);
    let db = cluster.database("app").await;
    let subject = "Réinitialisez votre mot de passe – 🔑 Ünïcödé, ça marche très bien même s'il est vraiment très long";
    queue_email(
        &db,
        "zoe@example.com",
        "Équipe Support <support@example.com>",
        subject,
        "Bonjour Zoë,\nvoici le lien.\n",
    )
    .await;
    let sink = Sink::start(&dir.join("mail"), 0, &[]);
    let smtp_url = sink.url();
    let _sender = start_sender(&dir, &cluster, &fast_smtp(&smtp_url, &[]));
    wait_drained(&db, 10 * SECOND).await;

    let received = sink.received();
    assert_eq!(received.len(), 1);
    let message = &received[0];
    let head = message.raw_head();
    assert!(head.is_ascii(), "raw headers must be 7-bit: {head}");
    let raw_subject = head
        .split("\r\nSubject: ")
        .nth(1)
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        raw_subject.starts_with("=?utf-8?"),
        "not RFC 2047 encoded: {raw_subject}"
    );
    assert_eq!(message.subject, subject);
    assert_eq!(
        message.header("From"),
        ["Équipe Support <support@example.com>"]
    );
    assert!(message.body.contains("Bonjour Zoë"), "{}", message.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_finishes_within_the_grace_period_and_releases_the_rest() {
    const QUEUED: i64 = 12;
    let dir = scratch_dir("sender-sigterm");
    let cluster = Cluster::start(&dir);
    let db = cluster.database("app").await;
    queue_emails(&db, "term", QUEUED as i32).await;
    let out = dir.join("mail");
    let sink = Sink::start(&out, 0, &["--delay", "0.3"]);
    let smtp_url = sink.url();
    let mut sender = start_sender(
        &dir,
        &cluster,
        &fast_smtp(
            &smtp_url,
            &[
                "--batch-size",
                "12",
                "--concurrency",
                "1",
                "--shutdown-grace",
                "1s",
                "--worker-id",
                "term-worker",
            ],
        ),
    );
    wait_for(10 * SECOND, "a first delivery", || async {
        (!sink.received().is_empty()).then_some(())
    })
    .await;
    assert_eq!(
        count(&db, "claimed_by = 'term-worker' OR sent_at IS NOT NULL").await,
        QUEUED,
        "the batch is not in hand"
    );

    sender.terminate();
    let status = sender
        .wait_exit(4 * SECOND)
        .await
        .expect("the sender did not exit within grace + 3s");
    assert!(status.success(), "exit status {status}");
    sink.stop();

    assert_eq!(
        count(&db, "claimed_by IS NOT NULL OR claimed_until IS NOT NULL").await,
        0,
        "leases left behind"
    );
    let sent = count(&db, "sent_at IS NOT NULL").await;
    let pending = count(&db, "sent_at IS NULL AND dead_at IS NULL").await;
    assert_eq!(sent + pending, QUEUED);
    assert!(sent >= 2, "it stopped sending at once (sent {sent})");
    assert!(pending > 0, "the grace period did not bound the shutdown");
    // An abandoned send may have reached the server: at most one per connection.
    let delivered = received_in(&out).len() as i64;
    assert!(
        (sent..=sent + 1).contains(&delivered),
        "sent={sent} delivered={delivered}"
    );
    assert!(
        sender.log_text().contains("gave back unsent claims"),
        "{}",
        sender.log_text()
    );
}

/// Runs `nile-reset send` with `more` flags against `url`, expecting it to refuse to start;
/// its output.
fn refused_start(url: &str, dir: &std::path::Path, more: &[&str]) -> String {
    let outbox = dir.join("eml");
    let flags = args(&["--outbox-dir", outbox.to_str().unwrap()], more);
    let (status, output) = run_to_exit("send", &flags, &[("NILE_RESET_DATABASE_URL", url)]);
    assert!(!status.success(), "it started:\n{output}");
    output
}

/// Issue: `--retry-base 2h` started fine, then every auth.mark_email_failed
/// raised (the SQL caps the backoff base at an hour), so a failing email was
/// never marked dead and was claimed again forever. Uses auth.sender_limits().
#[tokio::test(flavor = "multi_thread")]
async fn options_beyond_the_sql_limits_are_refused_at_start_up() {
    let cluster = Cluster::shared();
    let dir = scratch_dir("sender-limits");
    let db = cluster.database("sender_limits").await;
    queue_emails(&db, "limits", 1).await;
    let url = cluster.url("sender_limits");

    let output = refused_start(&url, &dir, &["--retry-base", "2h"]);
    assert!(output.contains("--retry-base 2h is above"), "{output}");
    assert!(output.contains("auth.sender_limits()"), "{output}");

    let output = refused_start(
        &url,
        &dir,
        &[
            "--batch-size",
            "5000",
            "--max-attempts",
            "5000",
            "--lease",
            "2days",
            "--channel",
            "not-an-identifier!",
            "--worker-id",
            "two words",
        ],
    );
    for flag in [
        "--batch-size 5000",
        "--max-attempts 5000",
        "--lease 2days",
        "--channel \"not-an-identifier!\"",
        "--worker-id",
    ] {
        assert!(output.contains(flag), "{flag} not refused:\n{output}");
    }
    assert_eq!(
        count(&db, "claimed_by IS NOT NULL OR attempts > 0").await,
        0,
        "a refused sender touched the outbox"
    );
}

/// The channel clap offers by default is the one the SQL defaults to, as the
/// installed extension's auth.sender_limits() says.
#[tokio::test(flavor = "multi_thread")]
async fn the_default_channel_is_the_sql_default() {
    let db = Cluster::shared().database("sender_default_channel").await;
    let row = db
        .query_one(
            "SELECT default_channel, $1::text ~ channel_pattern AS allowed FROM auth.sender_limits()",
            &[&DEFAULT_CHANNEL],
        )
        .await
        .expect("auth.sender_limits() is missing from the installed extension");
    assert_eq!(row.get::<_, String>("default_channel"), DEFAULT_CHANNEL);
    assert!(
        row.get::<_, bool>("allowed"),
        "the default channel breaks the pattern"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn send_refuses_a_database_without_the_extension_or_of_another_version() {
    let cluster = Cluster::shared();
    let dir = scratch_dir("sender-versions");
    cluster.empty_database("sender_no_extension").await;
    let output = refused_start(&cluster.url("sender_no_extension"), &dir, &[]);
    assert!(
        output.contains("the nile_reset extension is not installed"),
        "{output}"
    );

    let db = cluster.database("sender_other_version").await;
    db.batch_execute("UPDATE pg_extension SET extversion = '0.0.9' WHERE extname = 'nile_reset'")
        .await
        .unwrap();
    let output = refused_start(&cluster.url("sender_other_version"), &dir, &[]);
    let expected = format!(
        "the database has nile_reset 0.0.9, but this nile-reset is built for {}",
        env!("CARGO_PKG_VERSION")
    );
    assert!(output.contains(&expected), "{output}");
}

/// Issue: at RUST_LOG=debug, send logged tokio-postgres' query parameters,
/// among them the SMTP reply stored as last_error, which quotes the recipient.
#[tokio::test(flavor = "multi_thread")]
async fn debug_logs_never_show_smtp_replies_or_recipients() {
    let cluster = Cluster::shared();
    let dir = scratch_dir("sender-debug-log");
    let db = cluster.database("sender_debug_log").await;
    let id = queue_email(
        &db,
        "secret-recipient@example.com",
        "support@example.com",
        "Reset",
        "Hello,\nopen http://localhost:3000/reset?token=t-secret-link\n",
    )
    .await;
    let sink = Sink::start(
        &dir.join("mail"),
        0,
        &["--fail", "secret-recipient@example.com=550"],
    );
    let smtp_url = sink.url();
    let sender = Sender::send(
        dir.join("sender.log"),
        &cluster.url("sender_debug_log"),
        &args(FAST, &["--transport", "smtp", "--smtp-url", &smtp_url]),
        &[("RUST_LOG", "debug")],
    );
    wait_drained(&db, 10 * SECOND).await;

    let last_error: String = db
        .query_one(
            &format!("SELECT last_error FROM {OUTBOX} WHERE id = $1 AND dead_at IS NOT NULL"),
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    // What mark_email_failed received, and tokio-postgres would log at debug.
    assert!(
        last_error.contains("secret-recipient@example.com"),
        "{last_error}"
    );
    // A debug line, logged once the drain is over: the log is complete and at debug level.
    sender.wait_for_log(ASLEEP, 1, 10 * SECOND).await;
    let log = sender.log_text();
    assert!(log.contains("outcome=\"dead\""), "{log}");
    for secret in ["secret-recipient", "t-secret-link", "No such user"] {
        assert!(!log.contains(secret), "the log shows {secret:?}:\n{log}");
    }
}

/// An outcome this binary does not know means an extension it was not built
/// for: an error, logged, and nothing recorded (the lease then expires).
#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_failure_outcome_is_an_error() {
    let cluster = Cluster::shared();
    let dir = scratch_dir("sender-unknown-outcome");
    let db = cluster.database("sender_unknown_outcome").await;
    replace_function(
        &db,
        "mark_email_failed",
        "CREATE FUNCTION auth.mark_email_failed(id bigint, worker text, error text,
             permanent boolean, max_attempts integer, backoff_base interval)
         RETURNS text LANGUAGE sql AS $$ SELECT 'postponed' $$",
    )
    .await;
    let id = queue_email(
        &db,
        "gone@example.com",
        "support@example.com",
        "Reset",
        "Hello\n",
    )
    .await;
    let sink = Sink::start(&dir.join("mail"), 0, &["--fail", "gone@example.com=550"]);
    let smtp_url = sink.url();
    let sender = Sender::send(
        dir.join("sender.log"),
        &cluster.url("sender_unknown_outcome"),
        &fast_smtp(&smtp_url, &[]),
        &[],
    );
    sender
        .wait_for_log(
            "auth.mark_email_failed answered an unknown outcome `postponed`",
            1,
            10 * SECOND,
        )
        .await;
    assert_eq!(
        count(
            &db,
            &format!("id = {id} AND (dead_at IS NOT NULL OR sent_at IS NOT NULL)")
        )
        .await,
        0,
        "the failure was recorded as something"
    );
}
