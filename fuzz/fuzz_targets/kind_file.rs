//! The kind file parser (`template::kind::parse`, what `kind::load` runs on a file's text):
//! any text is a kind or a list of diagnostics, never a panic; a loaded kind's template
//! strings point into the file at the text they hold; every slot declaration can be checked.
#![no_main]

use std::path::Path;

use crier::channels::OVERRIDABLE;
use crier::template::kind::{self, MESSAGE_FIELDS};
use crier::template::slots::Clock;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("templates/update.toml");
    match kind::parse(path, source.to_string(), &OVERRIDABLE) {
        Ok(kind) => {
            assert_eq!(kind.name, "update");
            assert_eq!(kind.source, source);
            for (field, label) in kind.message.iter().zip(MESSAGE_FIELDS) {
                assert_eq!(field.name, format!("templates/update.toml:message.{label}"));
            }
            for field in kind.fields() {
                assert!(field.name.starts_with("templates/update.toml:"));
                // The span covers the value as written, on character boundaries.
                let written = source.get(field.span.clone()).unwrap_or_else(|| {
                    panic!("span {:?} of {} is not in the file", field.span, field.name)
                });
                let start = kind::content_start(source, &field.span);
                assert!(start >= field.span.start && start <= field.span.end);
                assert!(source.is_char_boundary(start));
                // A literal string holds exactly the text between its quotes.
                if let Some(inner) = written
                    .strip_prefix('\'')
                    .and_then(|w| w.strip_suffix('\''))
                {
                    if !written.starts_with("'''") {
                        assert_eq!(inner, field.text);
                    }
                }
                let location = kind.location(field.span.start);
                assert!(location.line >= 1 && location.line <= source.lines().count().max(1));
            }
            for (channel, fields) in &kind.overrides {
                assert!(OVERRIDABLE.contains(&channel.as_str()));
                for (i, field) in fields {
                    assert!(*i < MESSAGE_FIELDS.len());
                    assert!(field.name.ends_with(MESSAGE_FIELDS[*i]));
                }
            }
            assert!(kind.slots.keys().eq(kind.slot_spans.keys()));
            let tz = jiff::tz::TimeZone::UTC;
            let clock = Clock {
                now: jiff::Timestamp::from_second(1_795_000_000).expect("a valid moment"),
                tz: &tz,
            };
            for spec in kind.slots.values() {
                for (message, hint) in spec.check_declaration(clock) {
                    assert!(!message.is_empty() && !hint.is_empty());
                }
            }
        }
        Err(problems) => {
            assert!(!problems.is_empty());
            for problem in problems {
                let text = problem.to_string();
                assert!(text.starts_with("error: "));
                if let Some(location) = problem.location {
                    assert_eq!(location.file, path);
                    assert!(location.line <= source.lines().count() + 1);
                }
            }
        }
    }
});
