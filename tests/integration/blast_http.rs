//! `crier blast` over real HTTP: every web channel posts to wiremock servers on 127.0.0.1 that
//! the test starts and scripts (500 then 200, 429 with `Retry-After`, 410, a redirect, an
//! endpoint that hangs). Nothing of crier is mocked: the real binary plans into its SQLite
//! journal and sends through reqwest; the tests read what the servers received and the journal.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::http_support::{
    Clock, Reply, SECRET, blast, header, journal, path_of, project, row, signature_verifies,
    status_json, webhook_channel,
};

/// What each request of `requests` was sent to, by path.
fn by_path(requests: &[Request]) -> BTreeMap<String, Vec<&Request>> {
    let mut paths: BTreeMap<String, Vec<&Request>> = BTreeMap::new();
    for r in requests {
        paths.entry(path_of(r)).or_default().push(r);
    }
    paths
}

fn body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).expect("a JSON body")
}

fn chat(ty: &str, var: &str) -> String {
    format!("type = \"{ty}\"\nurl_env = \"{var}\"\n")
}

/// One blast on every HTTP channel type to 1,000 recipients with per-recipient webhooks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_http_channel_in_one_blast_to_a_thousand_recipients() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/slack"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": "provider-1" })))
        .mount(&server)
        .await;
    let uri = server.uri();
    let mut intercom_users = BTreeSet::new();
    let rows: Vec<String> = (1..=1000)
        .map(|i| {
            let id = format!("cus_{i:04}");
            let user = (i % 5 == 0).then(|| format!("icu_{i}"));
            if let Some(u) = &user {
                intercom_users.insert(u.clone());
            }
            row(&id, Some(&format!("{uri}/hook/{id}")), user.as_deref())
        })
        .collect();
    let p = project(
        &[
            ("hooks", webhook_channel("per_second = 0")),
            ("slack", chat("slack", "SLACK_URL")),
            ("teams", chat("teams", "TEAMS_URL")),
            ("discord", chat("discord", "DISCORD_URL")),
            ("mattermost", chat("mattermost", "MATTERMOST_URL")),
            ("gchat", chat("google-chat", "GCHAT_URL")),
            (
                "intercom",
                format!(
                    "type = \"intercom\"\ntoken_env = \"INTERCOM_TOKEN\"\nadmin_id = \"4242\"\n\
                     mode = \"messages\"\napi_base = \"{uri}\"\nper_second = 0\n"
                ),
            ),
        ],
        &rows,
    );
    let run = blast(
        &p,
        "hooks,slack,teams,discord,mattermost,gchat,intercom",
        &[
            ("SLACK_URL", format!("{uri}/slack")),
            ("TEAMS_URL", format!("{uri}/teams")),
            ("DISCORD_URL", format!("{uri}/discord")),
            ("MATTERMOST_URL", format!("{uri}/mattermost")),
            ("GCHAT_URL", format!("{uri}/gchat")),
            ("INTERCOM_TOKEN", "tok_test_123".to_string()),
        ],
    );
    assert_eq!(run.code(), Some(0), "{}", run.text());

    let requests = server.received_requests().await.expect("recording is on");
    assert!(requests.iter().all(|r| r.method.as_str() == "POST"));
    assert_eq!(requests.len(), 1000 + 5 + intercom_users.len());
    let paths = by_path(&requests);

    // Each chat endpoint: exactly one POST, in the platform's own JSON.
    for chat_path in ["/slack", "/teams", "/discord", "/mattermost", "/gchat"] {
        let got = paths.get(chat_path).map_or(0, Vec::len);
        assert_eq!(got, 1, "{chat_path} got {got} requests");
        assert_eq!(
            header(paths[chat_path][0], "content-type"),
            "application/json"
        );
    }
    let slack = body(paths["/slack"][0]);
    assert!(slack["text"].as_str().is_some_and(|t| !t.is_empty()));
    let blocks = slack["blocks"].as_array().expect("Slack blocks");
    assert_eq!(blocks[0]["type"], "header");
    assert!(blocks.len() >= 3, "{slack}");

    let teams = body(paths["/teams"][0]);
    assert_eq!(teams["type"], "message");
    assert_eq!(
        teams["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(teams["attachments"][0]["content"]["type"], "AdaptiveCard");

    let discord = paths["/discord"][0];
    assert!(
        discord
            .url
            .query_pairs()
            .any(|(k, v)| k == "wait" && v == "true"),
        "Discord is asked to wait for the message: {}",
        discord.url
    );
    let discord = body(discord);
    assert_eq!(discord["allowed_mentions"]["parse"], json!([]));
    assert!(discord["embeds"][0]["title"].is_string());

    let mattermost = body(paths["/mattermost"][0]);
    assert!(
        mattermost["text"]
            .as_str()
            .is_some_and(|t| t.contains("complete a checkout")),
        "{mattermost}"
    );

    let gchat = body(paths["/gchat"][0]);
    let card = &gchat["cardsV2"][0]["card"];
    assert!(card["header"]["title"].is_string(), "{gchat}");
    assert!(card["sections"].is_array());

    // Intercom: one in-app message per contact with an Intercom id, with the bearer token.
    let messages = &paths["/messages"];
    assert_eq!(messages.len(), intercom_users.len());
    let mut to = BTreeSet::new();
    for m in messages {
        assert_eq!(header(m, "authorization"), "Bearer tok_test_123");
        let b = body(m);
        assert_eq!(b["message_type"], "inapp");
        assert_eq!(b["from"], json!({ "type": "admin", "id": "4242" }));
        assert!(to.insert(b["to"]["id"].as_str().unwrap().to_string()));
    }
    assert_eq!(to, intercom_users, "each contact exactly once");

    // Webhooks: one POST per recipient path, each signed, each id `msg_` + its journal key.
    let keys: BTreeMap<String, String> = journal(&p, "hooks")
        .await
        .into_iter()
        .map(|r| {
            assert_eq!(r.state, "sent", "{r:?}");
            assert_eq!(r.attempts, 1, "{r:?}");
            (r.recipient_id, r.key)
        })
        .collect();
    assert_eq!(keys.len(), 1000);
    let hooks: Vec<(&String, &Vec<&Request>)> = paths
        .iter()
        .filter(|(p, _)| p.starts_with("/hook/"))
        .collect();
    assert_eq!(hooks.len(), 1000, "one path per recipient");
    let mut ids = BTreeSet::new();
    for (hook_path, got) in hooks {
        assert_eq!(got.len(), 1, "{hook_path} got {} requests", got.len());
        let r = got[0];
        let recipient = hook_path.trim_start_matches("/hook/");
        assert!(
            signature_verifies(SECRET, r),
            "{hook_path}: the signature does not verify"
        );
        let id = header(r, "webhook-id");
        assert_eq!(id, format!("msg_{}", keys[recipient]), "{hook_path}");
        assert!(ids.insert(id), "webhook-ids are distinct");
        let event = body(r);
        assert_eq!(event["type"], "incident.outage-notice");
        assert_eq!(event["data"]["recipient"]["id"], recipient);
        assert_eq!(event["data"]["incident"]["id"], "INC-1");
    }

    // Chat channels and Intercom in the journal: one row for everyone, one per contact.
    for channel in ["slack", "teams", "discord", "mattermost", "gchat"] {
        let rows = journal(&p, channel).await;
        assert_eq!(rows.len(), 1, "{channel}");
        assert_eq!(
            (rows[0].recipient_id.as_str(), rows[0].state.as_str()),
            ("*", "sent")
        );
    }
    let status = status_json(&p);
    assert_eq!(status["channels"]["hooks"]["sent"], 1000);
    assert_eq!(status["channels"]["intercom"]["sent"], intercom_users.len());
    assert_eq!(status["failures"], json!([]));
}

/// A 500, a 500, then a 200: delivered once, every attempt with the same `webhook-id`.
#[tokio::test]
async fn the_webhook_id_is_the_same_on_every_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook/cus_2"))
        .respond_with(ResponseTemplate::new(500).set_body_string("upstream down"))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let uri = server.uri();
    let rows: Vec<String> = (1..=3)
        .map(|i| {
            row(
                &format!("cus_{i}"),
                Some(&format!("{uri}/hook/cus_{i}")),
                None,
            )
        })
        .collect();
    let p = project(&[("hooks", webhook_channel("per_second = 0"))], &rows);
    let run = blast(&p, "hooks", &[]);
    assert_eq!(run.code(), Some(0), "{}", run.text());
    // Two retries: full jitter under 1 s then 2 s, plus polling.
    assert!(run.elapsed < Duration::from_secs(10), "{}", run.text());

    let requests = server.received_requests().await.unwrap();
    let paths = by_path(&requests);
    assert_eq!(paths["/hook/cus_1"].len(), 1);
    assert_eq!(paths["/hook/cus_3"].len(), 1);
    let flaky = &paths["/hook/cus_2"];
    assert_eq!(flaky.len(), 3, "two 500s, then the 200");
    let journal = journal(&p, "hooks").await;
    let row = journal.iter().find(|r| r.recipient_id == "cus_2").unwrap();
    let expected = format!("msg_{}", row.key);
    for r in flaky {
        assert_eq!(header(r, "webhook-id"), expected);
        assert!(signature_verifies(SECRET, r), "each attempt is signed");
        assert_eq!(r.body, flaky[0].body, "the same event on every attempt");
    }
    assert_eq!(row.state, "sent");
    assert_eq!(row.attempts, 3);

    let status = status_json(&p);
    assert_eq!(status["channels"]["hooks"]["sent"], 3);
    assert_eq!(status["channels"]["hooks"]["failed"], 0);
    assert_eq!(status["channels"]["hooks"]["retry"], 0);
}

/// One endpoint answers 429 with `Retry-After: 2`: nothing more reaches it for 2 s while
/// the other endpoint keeps receiving; in the end everyone gets the message once.
#[tokio::test]
async fn retry_after_pauses_only_the_endpoint_that_asked() {
    let throttled = MockServer::start().await;
    let other = MockServer::start().await;
    let (t_clock, o_clock) = (Clock::default(), Clock::default());
    Mock::given(method("POST"))
        .respond_with(t_clock.responder(|n| match n {
            0 => Reply::status(429).header("retry-after", "2"),
            _ => Reply::status(200),
        }))
        .mount(&throttled)
        .await;
    Mock::given(method("POST"))
        .respond_with(o_clock.responder(|_| Reply::status(200)))
        .mount(&other)
        .await;
    // 8 recipients behind the throttled endpoint, 20 behind the other, interleaved; each
    // endpoint at 5 messages per second (200 ms apart, time enough for the 429 to be read
    // before the next row's turn), so both are busy for a few seconds.
    let (mut on_throttled, mut on_other) = (BTreeSet::new(), BTreeSet::new());
    let rows: Vec<String> = (1..=28)
        .map(|i| {
            let id = format!("cus_{i:02}");
            let (server, set) = if i % 7 == 1 || i % 7 == 4 {
                (&throttled, &mut on_throttled)
            } else {
                (&other, &mut on_other)
            };
            set.insert(format!("/hook/{id}"));
            row(&id, Some(&format!("{}/hook/{id}", server.uri())), None)
        })
        .collect();
    let p = project(
        &[("hooks", webhook_channel("per_second = 5\nburst = 1"))],
        &rows,
    );
    let run = blast(&p, "hooks", &[]);
    assert_eq!(run.code(), Some(0), "{}", run.text());

    let t_seen = t_clock.seen();
    let o_seen = o_clock.seen();
    assert_eq!(t_seen[0].status, 429, "{t_seen:?}");
    let throttled_at = t_seen[0].at;
    let quiet_until = throttled_at + Duration::from_secs(2);
    // The journal keeps times in milliseconds: allow that much rounding.
    let rounding = Duration::from_millis(2);
    for s in &t_seen[1..] {
        assert!(
            s.at + rounding >= quiet_until,
            "{} reached the throttled endpoint {:?} after its 429",
            s.path,
            s.at - throttled_at
        );
    }
    let meanwhile = o_seen
        .iter()
        .filter(|s| s.at > throttled_at && s.at < quiet_until)
        .count();
    assert!(
        meanwhile >= 5,
        "the other endpoint kept receiving during the pause: {meanwhile} requests"
    );

    // Everyone once: each path got exactly one 200.
    let delivered = |seen: &[crate::http_support::Seen]| {
        let mut ok: BTreeMap<String, usize> = BTreeMap::new();
        for s in seen.iter().filter(|s| s.status == 200) {
            *ok.entry(s.path.clone()).or_default() += 1;
        }
        ok
    };
    let t_ok = delivered(&t_seen);
    assert_eq!(t_ok.keys().cloned().collect::<BTreeSet<_>>(), on_throttled);
    assert!(t_ok.values().all(|n| *n == 1), "{t_ok:?}");
    assert_eq!(
        t_seen.len(),
        on_throttled.len() + 1,
        "one 429, then one each"
    );
    let o_ok = delivered(&o_seen);
    assert_eq!(o_ok.keys().cloned().collect::<BTreeSet<_>>(), on_other);
    assert!(o_ok.values().all(|n| *n == 1), "{o_ok:?}");
    assert_eq!(o_seen.len(), on_other.len());
    let rows = journal(&p, "hooks").await;
    assert!(rows.iter().all(|r| r.state == "sent"), "{rows:?}");
}

/// `410 Gone`: that endpoint gets nothing more in this blast; the others are delivered.
#[tokio::test]
async fn gone_stops_sending_to_that_endpoint() {
    let gone = MockServer::start().await;
    let other = MockServer::start().await;
    let (g_clock, o_clock) = (Clock::default(), Clock::default());
    Mock::given(method("POST"))
        .respond_with(g_clock.responder(|_| Reply::status(410)))
        .mount(&gone)
        .await;
    Mock::given(method("POST"))
        .respond_with(o_clock.responder(|_| Reply::status(200)))
        .mount(&other)
        .await;
    let mut behind_gone = BTreeSet::new();
    let rows: Vec<String> = (1..=15)
        .map(|i| {
            let id = format!("cus_{i:02}");
            let server = if i % 3 == 1 {
                behind_gone.insert(id.clone());
                &gone
            } else {
                &other
            };
            row(&id, Some(&format!("{}/hook/{id}", server.uri())), None)
        })
        .collect();
    // 5 per second per endpoint: the rows behind the gone endpoint come 200 ms apart, after
    // the first one's 410 has been answered.
    let p = project(
        &[("hooks", webhook_channel("per_second = 5\nburst = 1"))],
        &rows,
    );
    let run = blast(&p, "hooks", &[]);
    assert_eq!(run.code(), Some(1), "{}", run.text());

    let g_seen = g_clock.seen();
    assert_eq!(
        g_seen.len(),
        1,
        "nothing more after the 410: {:?}",
        g_seen.iter().map(|s| &s.path).collect::<Vec<_>>()
    );
    assert_eq!(o_clock.seen().len(), 10);
    for r in journal(&p, "hooks").await {
        if behind_gone.contains(&r.recipient_id) {
            assert_eq!(r.state, "failed", "{r:?}");
            let error = r.last_error.unwrap_or_default();
            assert!(error.contains("410"), "{error}");
        } else {
            assert_eq!(r.state, "sent", "{r:?}");
        }
    }
    let status = status_json(&p);
    assert_eq!(status["channels"]["hooks"]["failed"], 5);
    assert_eq!(status["channels"]["hooks"]["sent"], 10);
    let failures = status["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 5);
    assert!(
        failures
            .iter()
            .all(|f| f["error"].as_str().unwrap().contains("HTTP 410 Gone")),
        "{failures:?}"
    );
}

/// A redirect is never followed: the target gets nothing, the row fails saying why.
#[tokio::test]
async fn a_redirect_is_never_followed() {
    let moved = MockServer::start().await;
    let target = MockServer::start().await;
    let new_home = format!("{}/new-home", target.uri());
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", new_home.as_str()))
        .mount(&moved)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(".*"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&target)
        .await;
    let p = project(
        &[("hooks", webhook_channel("per_second = 0"))],
        &[row(
            "cus_1",
            Some(&format!("{}/hook/cus_1", moved.uri())),
            None,
        )],
    );
    let run = blast(&p, "hooks", &[]);
    assert_eq!(run.code(), Some(1), "{}", run.text());

    assert_eq!(moved.received_requests().await.unwrap().len(), 1);
    assert!(
        target.received_requests().await.unwrap().is_empty(),
        "the redirect target received nothing"
    );
    let rows = journal(&p, "hooks").await;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].state.as_str(), rows[0].attempts), ("failed", 1));
    let error = rows[0].last_error.clone().unwrap_or_default();
    assert!(error.starts_with("HTTP 302 Found"), "{error}");
    assert!(
        error.contains(&format!("redirected to {new_home}")),
        "{error}"
    );
    assert!(error.contains("crier never follows"), "{error}");
    let status = status_json(&p);
    assert!(
        status["failures"][0]["error"]
            .as_str()
            .unwrap()
            .contains("never follows"),
        "{status}"
    );
}

/// An endpoint that hangs (10 s, channel timeout 1 s, `in_doubt = "skip"`): the other
/// endpoint's recipients are delivered at once, and the blast ends long before the hang would.
#[tokio::test]
async fn a_hanging_endpoint_does_not_hold_up_the_others() {
    let hanging = MockServer::start().await;
    let other = MockServer::start().await;
    let (h_clock, o_clock) = (Clock::default(), Clock::default());
    let hang = Duration::from_secs(10);
    Mock::given(method("POST"))
        .respond_with(h_clock.responder(move |_| Reply::status(200).after(hang)))
        .mount(&hanging)
        .await;
    Mock::given(method("POST"))
        .respond_with(o_clock.responder(|_| Reply::status(200)))
        .mount(&other)
        .await;
    let mut behind_hang = BTreeSet::new();
    let rows: Vec<String> = (1..=33)
        .map(|i| {
            let id = format!("cus_{i:02}");
            let server = if i % 11 == 1 {
                behind_hang.insert(id.clone());
                &hanging
            } else {
                &other
            };
            row(&id, Some(&format!("{}/hook/{id}", server.uri())), None)
        })
        .collect();
    let p = project(
        &[(
            "hooks",
            webhook_channel("per_second = 0\ntimeout_secs = 1\nin_doubt = \"skip\""),
        )],
        &rows,
    );
    let run = blast(&p, "hooks", &[]);
    assert_eq!(run.code(), Some(1), "{}", run.text());
    assert!(
        run.elapsed < Duration::from_secs(8),
        "the blast waited for the hanging endpoint: {}",
        run.text()
    );

    let h_seen = h_clock.seen();
    let o_seen = o_clock.seen();
    assert_eq!(h_seen.len(), 3, "each hanging row tried once, then skipped");
    assert_eq!(o_seen.len(), 30);
    let first_hang = h_seen.iter().map(|s| s.at).min().unwrap();
    for s in &o_seen {
        assert!(
            s.at < first_hang + Duration::from_secs(1),
            "{} arrived {:?} after the first hanging request",
            s.path,
            s.at.saturating_duration_since(first_hang)
        );
    }
    for r in journal(&p, "hooks").await {
        if behind_hang.contains(&r.recipient_id) {
            assert_eq!(r.state, "skipped", "{r:?}");
            assert!(r.in_doubt, "{r:?}");
        } else {
            assert_eq!(r.state, "sent", "{r:?}");
        }
    }
    let status = status_json(&p);
    assert_eq!(status["channels"]["hooks"]["skipped"], 3);
    assert_eq!(status["channels"]["hooks"]["sent"], 30);
    let listed: BTreeSet<String> = status["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["recipient_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, behind_hang, "the skipped rows are listed");
    let text = crate::support::stdout(&p.crier(&["status", "INC-1"]));
    assert!(text.contains("skipped"), "{text}");
}

/// The same hang with the default `in_doubt = "resend"`: sent again with the same
/// `webhook-id` after each timeout (with back-off), and given up after `max_attempts`
/// instead of forever.
#[tokio::test]
async fn a_message_in_doubt_is_resent_with_the_same_id_then_given_up() {
    let hanging = MockServer::start().await;
    let other = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&hanging)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&other)
        .await;
    let p = project(
        &[(
            "hooks",
            webhook_channel("per_second = 0\ntimeout_secs = 1\nmax_attempts = 3"),
        )],
        &[
            row(
                "cus_1",
                Some(&format!("{}/hook/cus_1", hanging.uri())),
                None,
            ),
            row("cus_2", Some(&format!("{}/hook/cus_2", other.uri())), None),
        ],
    );
    let run = blast(&p, "hooks", &[]);
    assert_eq!(run.code(), Some(1), "{}", run.text());
    assert!(run.elapsed < Duration::from_secs(20), "{}", run.text());

    let attempts = hanging.received_requests().await.unwrap();
    assert_eq!(attempts.len(), 3, "the channel's 3 attempts");
    let rows = journal(&p, "hooks").await;
    let hung = rows.iter().find(|r| r.recipient_id == "cus_1").unwrap();
    for r in &attempts {
        assert_eq!(header(r, "webhook-id"), format!("msg_{}", hung.key));
        assert!(signature_verifies(SECRET, r));
    }
    assert_eq!((hung.state.as_str(), hung.attempts), ("failed", 3));
    let error = hung.last_error.clone().unwrap_or_default();
    assert!(error.starts_with("gave up after 3 attempts"), "{error}");
    let sent = rows.iter().find(|r| r.recipient_id == "cus_2").unwrap();
    assert_eq!(sent.state, "sent");
    assert_eq!(other.received_requests().await.unwrap().len(), 1);
}

/// The channel rate limit, on governor's fake clock: 1,000 sends at 50 per second with
/// bursts of 10 never exceed 60 in any second, and take (1000 - 10) / 50 s.
#[test]
fn the_rate_limit_holds_over_a_thousand_sends() {
    use governor::RateLimiter;
    use governor::clock::{Clock as _, FakeRelativeClock};

    let quota = crier::delivery::worker::quota(Some(50.0), 10).expect("a limit");
    let clock = FakeRelativeClock::default();
    let limiter = RateLimiter::direct_with_clock(quota, clock.clone());
    let mut permitted: Vec<Duration> = Vec::with_capacity(1000);
    let mut refusals = 0;
    while permitted.len() < 1000 {
        match limiter.check() {
            Ok(()) => permitted.push(clock.now().into()),
            Err(not_until) => {
                refusals += 1;
                // Advance the fake clock only when refused, exactly as long as it asks.
                let wait = not_until.wait_time_from(clock.now());
                assert!(wait > Duration::ZERO);
                clock.advance(wait);
            }
        }
        assert!(
            refusals <= 1000,
            "the limiter never lets the next one through"
        );
    }
    assert_eq!(
        permitted[..10],
        [Duration::ZERO; 10],
        "a burst of 10 at once"
    );
    assert!(refusals >= 990 - 1, "{refusals}");
    for (i, start) in permitted.iter().enumerate() {
        let end = *start + Duration::from_secs(1);
        let in_window = permitted[i..].iter().take_while(|t| **t < end).count();
        assert!(
            in_window <= 50 + 10,
            "{in_window} sends in the second from {start:?}"
        );
    }
    let total = *permitted.last().unwrap();
    let expected = Duration::from_secs_f64((1000.0 - 10.0) / 50.0);
    let tick = Duration::from_millis(20);
    assert!(
        total + tick >= expected && total <= expected + tick,
        "1,000 sends took {total:?} of fake time, not about {expected:?}"
    );
}

/// Many rows for one hanging customer, listed first, and fewer send slots than those rows:
/// the hanging endpoint gets at most a few slots, so everyone else is still served at once.
#[tokio::test]
async fn a_hanging_customer_cannot_take_every_send_slot() {
    let hanging = MockServer::start().await;
    let other = MockServer::start().await;
    let (h_clock, o_clock) = (Clock::default(), Clock::default());
    Mock::given(method("POST"))
        .respond_with(h_clock.responder(|_| Reply::status(200).after(Duration::from_secs(10))))
        .mount(&hanging)
        .await;
    Mock::given(method("POST"))
        .respond_with(o_clock.responder(|_| Reply::status(200)))
        .mount(&other)
        .await;
    let rows: Vec<String> = (1..=32)
        .map(|i| {
            let id = format!("cus_{i:02}");
            let server = if i <= 12 { &hanging } else { &other };
            row(&id, Some(&format!("{}/hook/{id}", server.uri())), None)
        })
        .collect();
    let channel = "per_second = 0\nmax_in_flight = 8\ntimeout_secs = 2\nin_doubt = \"skip\"";
    let p = project(&[("hooks", webhook_channel(channel))], &rows);
    let run = blast(&p, "hooks", &[]);
    assert_eq!(run.code(), Some(1), "{}", run.text());
    let first_hang = h_clock.seen().iter().map(|s| s.at).min().unwrap();
    let o_seen = o_clock.seen();
    assert_eq!(o_seen.len(), 20);
    for s in &o_seen {
        assert!(
            s.at < first_hang + Duration::from_secs(1),
            "{} waited {:?} behind the hanging customer",
            s.path,
            s.at.saturating_duration_since(first_hang)
        );
    }
}

/// A host that accepts the connection and never answers, behind `timeout_secs = 2`: the
/// attempt is given up within the timeout and a second. Measured where it happens, at the
/// listener, from the accepted connection to crier closing it; and around the whole run (one
/// attempt only: `in_doubt = "skip"`).
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn one_attempt_is_given_up_within_the_timeout() {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let accepted = std::time::Instant::now();
        // Read the request and say nothing; the end of the stream is crier giving up.
        let mut buf = [0u8; 4096];
        while socket.read(&mut buf).await.is_ok_and(|n| n > 0) {}
        accepted.elapsed()
    });
    let timeout = Duration::from_secs(2);
    let p = project(
        &[(
            "hooks",
            webhook_channel("per_second = 0\ntimeout_secs = 2\nin_doubt = \"skip\""),
        )],
        &[row("cus_1", Some(&format!("http://{address}/hook")), None)],
    );
    let run = blast(&p, "hooks", &[]);
    assert_eq!(run.code(), Some(1), "{}", run.text());
    let held_for = held.await.unwrap();
    assert!(
        held_for >= timeout - Duration::from_millis(100)
            && held_for < timeout + Duration::from_secs(1),
        "the attempt lasted {held_for:?} for `timeout_secs = 2`: {}",
        run.text()
    );
    assert!(
        run.elapsed < timeout + Duration::from_secs(3),
        "the run took {:?}: {}",
        run.elapsed,
        run.text()
    );
    let rows = journal(&p, "hooks").await;
    assert_eq!(
        (rows[0].state.as_str(), rows[0].attempts),
        ("skipped", 1),
        "{rows:?}"
    );
}

/// Progress without a terminal (stderr is a pipe here): a blast of about 12 s, on a channel
/// done at once (one event to a fixed URL) and one limited to a message every 2 s (7
/// recipients' webhooks), lasts several progress periods (5 s).
/// Each channel's line is printed only when it changed: never the same line twice in a row.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn progress_without_a_terminal_prints_only_what_changed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let url = format!("{}/hook", server.uri());
    let rows: Vec<String> = (1..=7)
        .map(|i| row(&format!("cus_{i}"), Some(&url), None))
        .collect();
    let p = project(
        &[
            ("quick", webhook_channel(&format!("url = \"{url}\""))),
            ("slow", webhook_channel("per_second = 0.5\nburst = 1")),
        ],
        &rows,
    );
    let run = blast(&p, "quick,slow", &[]);
    assert_eq!(run.code(), Some(0), "{}", run.text());
    assert!(run.elapsed >= Duration::from_secs(11), "{}", run.text());
    let stderr = String::from_utf8_lossy(&run.out.stderr).into_owned();
    let progress: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("quick: ") || l.starts_with("slow: "))
        .collect();
    assert!(progress.len() >= 2, "{}", run.text());
    for pair in progress.windows(2) {
        assert_ne!(pair[0], pair[1], "the same line twice: {}", run.text());
    }
    for channel in ["quick: ", "slow: "] {
        let own: Vec<&&str> = progress.iter().filter(|l| l.starts_with(channel)).collect();
        for pair in own.windows(2) {
            assert_ne!(pair[0], pair[1], "the same line twice: {}", run.text());
        }
    }
    assert_eq!(
        progress.iter().filter(|l| l.starts_with("quick: ")).count(),
        1,
        "`quick` was done before the first line, and said so once: {}",
        run.text()
    );
}
