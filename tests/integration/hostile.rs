//! 1,000 generated hostile slot values (a fixed `fastrand` seed, so a failure reproduces)
//! through every channel format and the call script, by the path `crier preview` and the
//! snapshots take (`preview::outputs`): every payload is valid, a value that does not fit is a
//! limit error (never a panic, never a cut message), and no markup, link or mention of a value
//! comes alive anywhere.

use std::collections::BTreeMap;

use crier::channels::FORMATS;
use crier::template::{Incident, SlotValues};

use crate::support::{Project, now};

/// What values are made of: markup, mentions, links, quotes, escapes and invisible characters.
const PIECES: &[&str] = &[
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "@everyone",
    "@here",
    "@channel",
    "@all",
    "<@123>",
    "<@!123>",
    "<#456>",
    "<@&789>",
    "<users/all>",
    "<at>Sam</at>",
    "[x](http://evil.example/a)",
    "[click](javascript:alert(1))",
    "![img](http://evil.example/i.png)",
    "<http://evil.example|Your bank>",
    "http://evil.example/raw",
    "https://evil.example/?q=\"'><",
    "<a href=\"http://evil.example\">x</a>",
    "**bold**",
    "__under__",
    "~~gone~~",
    "`code`",
    "```fence```",
    "||spoiler||",
    "# heading",
    "\n- item\n",
    "\n1. one\n",
    "\n> quote\n",
    "-# subtext",
    "\"double\"",
    "'single'",
    "\\",
    "\\\\",
    "\\*",
    "&amp;",
    "&lt;script&gt;",
    "{{ company.name }}",
    "{% raw %}",
    "\r\n",
    "\r",
    "\t",
    "\u{1}",
    "\u{7}",
    "\u{1b}[31m",
    "\u{7f}",
    "\u{202E}",
    "\u{2066}",
    "\u{200B}",
    "\u{200D}",
    "\u{FEFF}",
    "Bcc: victim@example.com",
    "plain words",
    "Ünïcödé ✓ 🚨",
];

/// A value of 1 to 6 pieces and a few random characters, or (every 200th) about 100 KB.
fn value(rng: &mut fastrand::Rng, i: usize) -> String {
    let mut v = String::new();
    for _ in 0..rng.usize(1..=6) {
        v.push_str(PIECES[rng.usize(..PIECES.len())]);
        if rng.bool() {
            v.push(rng.char('\u{0}'..='\u{2FF}'));
        }
    }
    if i % 200 == 199 {
        v = format!("{} {v}", "lorem ipsum ".repeat(100 * 1024 / 12));
    }
    // A marker at the end: a message that holds the value holds all of it.
    format!("{v} END{i}END")
}

/// Whether `s` holds `c` not escaped by a backslash.
fn unescaped(s: &str, c: char) -> bool {
    let mut backslashes = 0;
    for ch in s.chars() {
        if ch == c && backslashes % 2 == 0 {
            return true;
        }
        backslashes = if ch == '\\' { backslashes + 1 } else { 0 };
    }
    false
}

/// Whether `s` holds a Markdown link to the evil host or a script: `](target` with the `]`
/// not escaped.
fn live_link(s: &str) -> bool {
    ["](http://evil", "](https://evil", "](javascript"]
        .iter()
        .any(|target| {
            s.match_indices(target).any(|(at, _)| {
                let backslashes = s[..at].chars().rev().take_while(|c| *c == '\\').count();
                backslashes % 2 == 0
            })
        })
}

/// A mention a chat platform reads: `@word` with no zero-width space after the `@`, not
/// inside an address.
fn live_mention(s: &str) -> Option<&'static str> {
    ["@everyone", "@here", "@channel", "@all"]
        .into_iter()
        .find(|m| {
            s.match_indices(m).any(|(at, _)| {
                !s[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|p| p.is_alphanumeric())
            })
        })
}

/// HTML: no element, attribute or link a value brought. Every tag (`<` up to `>`) is one the
/// layouts or the Markdown writer make, and no link goes to the evil host or runs a script.
fn assert_inert_html(what: &str, html: &str) {
    for (at, _) in html.match_indices('<') {
        let tag = &html[at..];
        let tag = &tag[..tag.find('>').map_or(tag.len(), |end| end + 1)];
        let lower = tag.to_lowercase();
        for live in [
            "<script",
            "<img",
            "<iframe",
            "<at>",
            "<users/",
            "<!channel",
            "<!here",
        ] {
            assert!(
                !lower.starts_with(live),
                "{what}: `{tag}` is live in {html}"
            );
        }
        for bad in ["evil", "javascript", "onerror"] {
            assert!(!lower.contains(bad), "{what}: `{tag}` is live in {html}");
        }
    }
}

/// Chat Markdown (Discord, Mattermost, Teams): no link to the evil host, no raw angle bracket.
fn assert_inert_markdown(what: &str, md: &str) {
    assert!(!live_link(md), "{what}: a live link in {md}");
    assert!(!unescaped(md, '<'), "{what}: a raw `<` in {md}");
    if let Some(m) = live_mention(md) {
        panic!("{what}: a live `{m}` in {md:?}");
    }
}

/// Text Discord shows as plain text (the content, the embed title): every markup character
/// escaped, mentions defused.
fn assert_discord_text(what: &str, text: &str) {
    for c in ['<', '>', '[', ']', '*', '_', '`', '~', '|', '#'] {
        assert!(!unescaped(text, c), "{what}: `{c}` unescaped in {text:?}");
    }
    assert!(
        live_mention(text).is_none(),
        "{what}: live mention in {text:?}"
    );
}

fn assert_safe(file: &str, content: &str) {
    if file.ends_with(".html") {
        assert_inert_html(file, content);
    }
    if !file.ends_with(".json") {
        return;
    }
    let json: serde_json::Value =
        serde_json::from_str(content).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    match file {
        "slack.json" => {
            let mut mrkdwn = vec![text(&json["text"])];
            for block in json["blocks"].as_array().unwrap() {
                if block["text"]["type"] == "mrkdwn" {
                    mrkdwn.push(text(&block["text"]["text"]));
                }
                for element in block["elements"].as_array().into_iter().flatten() {
                    if element["type"] == "mrkdwn" {
                        mrkdwn.push(text(&element["text"]));
                    }
                }
            }
            for t in mrkdwn {
                for live in ["<!", "<@", "<#", "<http://evil", "<javascript"] {
                    assert!(!t.contains(live), "slack: `{live}` live in {t:?}");
                }
            }
        }
        "discord.json" => {
            assert_eq!(json["allowed_mentions"]["parse"], serde_json::json!([]));
            assert_discord_text("discord content", &text(&json["content"]));
            let embed = &json["embeds"][0];
            assert_discord_text("discord title", &text(&embed["title"]));
            assert_inert_markdown("discord description", &text(&embed["description"]));
        }
        "mattermost.json" => assert_inert_markdown("mattermost", &text(&json["text"])),
        "teams.json" => {
            for t in strings(&json) {
                assert!(!live_link(&t), "teams: a live link in {t}");
            }
        }
        "google-chat.json" => {
            // The paragraph renders Chat's HTML subset; the header is plain text.
            let card = &json["cardsV2"][0]["card"]["sections"][0]["widgets"][0];
            assert_inert_html("google-chat", &text(&card["textParagraph"]["text"]));
        }
        "intercom.json" => assert_inert_html("intercom", &text(&json["body"])),
        "webhook.json" => {
            assert_inert_html("webhook", &text(&json["data"]["message"]["body_html"]));
        }
        _ => {}
    }
}

/// Every string in `value`.
fn strings(value: &serde_json::Value) -> Vec<String> {
    match value {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(a) => a.iter().flat_map(strings).collect(),
        serde_json::Value::Object(o) => o.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn a_thousand_hostile_values_stay_text_in_every_format() {
    let p = Project::init();
    let project = p.load();
    let kinds: Vec<_> = project.engine.kinds().values().collect();
    let wanted: Vec<&str> = FORMATS.iter().copied().chain(["call-script"]).collect();
    let mut rng = fastrand::Rng::with_seed(0x0c21e5);
    let (mut checked, mut refused, mut long_refused) = (0, 0, 0);
    for i in 0..1000 {
        let value = value(&mut rng, i);
        let marker = format!("END{i}END");
        let long = value.len() > 50_000;
        let kind = kinds[i % kinds.len()];
        let incident = Incident::sample(Some(&value), now());
        // Every slot holds the value as it would read in a message (past the slot checks, so
        // even a `time` slot carries it, and a 100 KB value reaches the renderers).
        let display: BTreeMap<String, String> = kind
            .slots
            .keys()
            .map(|k| (k.clone(), value.clone()))
            .collect();
        let values = SlotValues {
            raw: display.clone(),
            display,
        };
        let (outputs, problems) =
            crier::preview::outputs(&project, kind, &values, &incident, &wanted, now())
                .unwrap_or_else(|e| panic!("value {i} {value:?}: {e}"));
        for o in &outputs {
            assert_safe(o.file, &o.content);
            if long && o.file != "summary.txt" {
                assert!(
                    o.content.contains(&marker),
                    "value {i}: {} holds the long value cut short",
                    o.file
                );
            }
            checked += 1;
        }
        for problem in problems.iter() {
            let m = &problem.message;
            let header = m.contains("would become an email header but contains");
            let too_long = m.contains("characters long") || m.contains("bytes long");
            assert!(header || too_long, "value {i}: {m}");
            if header {
                assert!(value.contains(['\r', '\n', '\0']), "value {i}: {m}");
            }
            if too_long && long {
                long_refused += 1;
            }
            refused += 1;
        }
    }
    assert!(checked > 10_000, "checked {checked} outputs");
    assert!(refused > 0 && long_refused > 0, "{refused} {long_refused}");
}
