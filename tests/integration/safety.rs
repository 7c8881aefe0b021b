//! Hostile values through every slot into every channel: markup stays text, JSON stays valid,
//! nobody gets pinged, and nothing sneaks into an email header.

use std::collections::BTreeMap;

use crier::channels::{self, FORMATS, FormatError, Meta};
use crier::template::{Incident, Inputs, Recipient};

use crate::support::{Project, now};

const HOSTILE: [&str; 7] = [
    "<script>alert(1)</script>",
    "Tom & Jerry's \"quoted\" <b>bold</b>",
    "<!channel> <!here> <@U123> <users/all>",
    "@everyone @here hello",
    "line one\r\nBcc: victim@example.com\nline three",
    "[click me](javascript:alert(1)) ![img](https://evil.example/x.png) **bold** # heading\n- item\n1. one",
    "nul\0byte",
];

/// HTML must hold no live markup from a value; plain text may hold the value as typed.
fn assert_inert_html(file: &str, html: &str, value: &str) {
    let lower = html.to_lowercase();
    assert!(
        !lower.contains("<script"),
        "{file}: raw <script> for {value:?}"
    );
    assert!(
        !lower.contains("href=\"javascript"),
        "{file}: javascript link for {value:?}"
    );
    for tag in ["<b>bold</b>", "<img", "<!channel>"] {
        assert!(!html.contains(tag), "{file}: {tag} became markup");
    }
}

fn assert_safe(format: &str, file: &str, content: &str, value: &str) {
    if file.ends_with(".html") {
        assert_inert_html(file, content, value);
    }
    if file.ends_with(".json") {
        let json: serde_json::Value =
            serde_json::from_str(content).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
        match format {
            "slack" => {
                // mrkdwn is where `<!channel>` would ping; plain_text (the header) never does.
                let mut mrkdwn = vec![json["text"].as_str().unwrap().to_string()];
                for block in json["blocks"].as_array().unwrap() {
                    if block["text"]["type"] == "mrkdwn" {
                        mrkdwn.push(block["text"]["text"].as_str().unwrap().to_string());
                    }
                }
                for text in mrkdwn {
                    for raw in ["<!channel>", "<!here>", "<@U123>"] {
                        assert!(!text.contains(raw), "slack: {raw} unescaped in {text:?}");
                    }
                }
            }
            "discord" => assert_eq!(json["allowed_mentions"]["parse"], serde_json::json!([])),
            "mattermost" => {
                let text = json["text"].as_str().unwrap();
                assert!(
                    !text.contains("@everyone") && !text.contains("@here"),
                    "mattermost: live mention"
                );
            }
            "google-chat" => {
                let card = &json["cardsV2"][0]["card"]["sections"][0]["widgets"][0];
                let html = card["textParagraph"]["text"].as_str().unwrap();
                assert_inert_html(file, html, value);
                assert!(!html.contains("<users/all>"), "google chat: live mention");
            }
            "webhook" if file == "webhook.json" => {
                assert_inert_html(
                    file,
                    json["data"]["message"]["body_html"].as_str().unwrap(),
                    value,
                );
            }
            "intercom" => assert_inert_html(file, json["body"].as_str().unwrap(), value),
            _ => {}
        }
    }
}

#[test]
fn hostile_values_stay_text_on_every_channel() {
    let p = Project::init();
    let project = p.load();
    let long = "x".repeat(10 * 1024);
    let values: Vec<&str> = HOSTILE.iter().copied().chain([long.as_str()]).collect();
    let mut checked = 0;
    let mut refused_headers = 0;
    let mut too_long = 0;
    for kind in project.engine.kinds().values() {
        for value in &values {
            // The title reaches the subject: the one header an operator's text flows into.
            let incident = Incident::sample(Some(value), now());
            let slots: BTreeMap<String, String> = kind
                .slots
                .keys()
                .map(|k| (k.clone(), value.to_string()))
                .collect();
            for recipient in [
                Recipient {
                    name: value.to_string(),
                    ..Recipient::sample()
                },
                Recipient::default(),
            ] {
                let inputs = Inputs {
                    incident: &incident,
                    slots: &slots,
                    recipient: &recipient,
                    company: &project.config.company,
                    now: now(),
                    tz: &project.config.time_zone,
                };
                let rendered = project.engine.render(kind, &inputs).expect("renders");
                let meta = Meta {
                    kind: &kind.name,
                    inputs,
                    message_id: "m1",
                    sequence: 1,
                };
                for format in FORMATS {
                    match channels::formats(format, &project.engine, &rendered, &meta) {
                        Ok(outputs) => {
                            for o in outputs {
                                assert_safe(format, o.file, &o.content, value);
                                checked += 1;
                            }
                        }
                        Err(FormatError::UnsafeHeader { field, .. }) => {
                            assert_eq!(field, "subject");
                            assert!(
                                value.contains(['\r', '\n', '\0']),
                                "{format}: {value:?} refused"
                            );
                            refused_headers += 1;
                        }
                        Err(FormatError::TooLong { .. }) => {
                            assert!(
                                value.len() >= 10 * 1024
                                    || format == "summary"
                                    || format == "slack",
                                "{format} too long for {value:?}"
                            );
                            too_long += 1;
                        }
                        Err(e) => panic!("{format}: {e}"),
                    }
                }
            }
        }
    }
    assert!(checked > 500, "checked {checked} outputs");
    assert!(
        refused_headers > 0,
        "a subject with a line break must be refused"
    );
    assert!(too_long > 0, "a 10 KB value must be over some limit");
}

#[test]
fn slot_values_refuse_nul_and_overlong_text() {
    let p = Project::init();
    let out = p.crier(&[
        "preview",
        "update",
        "--set",
        "progress=a\u{1}b\tc",
        "--channel",
        "summary",
    ]);
    assert!(
        out.status.success(),
        "control characters other than NUL are text"
    );
    let long = format!("progress={}", "y".repeat(10 * 1024));
    let out = p.crier(&["preview", "update", "--set", &long]);
    assert_eq!(out.status.code(), Some(2));
}
