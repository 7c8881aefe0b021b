//! The template engine: every kind's strings and every layout compiled once, rendered many times.
//!
//! Two Tera instances: `text` for the kinds' strings (bodies escape values for Markdown, the rest
//! are plain text that each channel escapes for its own format) and `html` for the layouts
//! (HTML autoescape). Tera errors are mapped back to the kind file's line and column.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::context::{Inputs, Recipient};
use super::kind::{self, Field, Kind};
use super::markdown::{self, Markdown};
use crate::diag::{Diagnostic, Diagnostics, Location};

/// The layouts every kind is rendered into; part of what an approval covers.
pub const LAYOUTS: [&str; 2] = ["email.html", "call-script.html"];

/// A rendered message: what every channel adapts. Plain-text fields are unescaped.
#[derive(Debug, Clone)]
pub struct Message {
    pub subject: String,
    pub headline: String,
    /// Whitespace folded to single spaces: it is the SMS, the banner, the chat preview.
    pub summary: String,
    pub body: Markdown,
}

/// A message as layouts see it (`message` in `email.html` and `call-script.html`);
/// `body_html` is safe HTML.
#[derive(serde::Serialize)]
pub struct MessageView<'a> {
    pub subject: &'a str,
    pub headline: &'a str,
    pub summary: &'a str,
    pub body_html: &'a str,
    pub body_text: &'a str,
}

impl<'a> MessageView<'a> {
    pub fn of(m: &'a Message) -> Self {
        MessageView {
            subject: &m.subject,
            headline: &m.headline,
            summary: &m.summary,
            body_html: m.body.html(),
            body_text: m.body.text(),
        }
    }
}

/// One kind rendered for one recipient: the base message and the per-channel variants.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub kind: String,
    pub base: Message,
    pub overrides: BTreeMap<String, Message>,
}

impl Rendered {
    /// The message as channel type `channel` sends it (its override, or the base).
    pub fn message_for(&self, channel: &str) -> &Message {
        self.overrides.get(channel).unwrap_or(&self.base)
    }
}

/// The call script as rendered from a kind.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Script {
    pub opening: String,
    pub key_points: Vec<String>,
    pub faq: Vec<Faq>,
    pub do_not_say: Vec<String>,
    pub escalate: Vec<String>,
    pub closing: String,
}

/// One question a caller may ask, with the approved answer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Faq {
    pub q: String,
    pub a: String,
}

/// Where a template came from, to turn Tera's positions into file positions.
#[derive(Debug, Clone)]
struct Origin {
    path: PathBuf,
    /// Byte offset in the file where the template text starts.
    start: usize,
    kind: String,
}

/// All kinds and layouts of a project, compiled.
pub struct Engine {
    text: tera::Tera,
    html: tera::Tera,
    kinds: BTreeMap<String, Kind>,
    origins: HashMap<String, Origin>,
    layouts: BTreeMap<String, (PathBuf, Vec<u8>)>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("kinds", &self.kinds.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Load every `*.toml` kind (but `approvals.toml`) and every layout of `dir`.
    pub fn load(dir: &Path, channel_types: &[&str]) -> Result<Engine, Diagnostics> {
        let mut problems = Diagnostics::default();
        let mut engine = Engine {
            text: text_tera(),
            html: tera::Tera::new(),
            kinds: BTreeMap::new(),
            origins: HashMap::new(),
            layouts: BTreeMap::new(),
        };
        for path in kind_files(dir).map_err(single)? {
            match kind::load(&path, channel_types) {
                Ok(kind) => {
                    for d in engine.add_kind(kind) {
                        problems.push(d);
                    }
                }
                Err(ds) => ds.into_iter().for_each(|d| problems.push(d)),
            }
        }
        if engine.kinds.is_empty() && problems.is_empty() {
            problems.push(
                Diagnostic::new(format!("no message kinds in `{}`", dir.display()))
                    .in_file(dir)
                    .hint(
                        "add `update.toml` and friends, or create a project with `crier init DIR`",
                    ),
            );
        }
        for name in LAYOUTS {
            if let Err(d) = engine.add_layout(&dir.join("layouts").join(name)) {
                problems.push(d);
            }
        }
        problems.into_result(engine).map_err(|e| e.0)
    }

    fn add_kind(&mut self, kind: Kind) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        for field in kind.fields() {
            let start = kind::content_start(&kind.source, &field.span);
            self.origins.insert(
                field.name.clone(),
                Origin {
                    path: kind.path.clone(),
                    start,
                    kind: kind.name.clone(),
                },
            );
            if let Err(e) = self.text.add_raw_template(&field.name, &field.text) {
                problems.push(self.diagnose(&field.name, &kind.source, &e));
            }
        }
        self.kinds.insert(kind.name.clone(), kind);
        problems
    }

    fn add_layout(&mut self, path: &Path) -> Result<(), Diagnostic> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = std::fs::read(path).map_err(|e| {
            Diagnostic::new(format!("cannot read layout `{}`: {e}", path.display()))
                .in_file(path)
                .hint("every project needs `layouts/email.html` and `layouts/call-script.html`; `crier init` writes them")
        })?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        self.origins.insert(
            name.clone(),
            Origin {
                path: path.to_path_buf(),
                start: 0,
                kind: String::new(),
            },
        );
        self.html
            .add_raw_template(&name, &text)
            .map_err(|e| self.diagnose(&name, &text, &e))?;
        self.layouts.insert(name, (path.to_path_buf(), bytes));
        Ok(())
    }

    /// The kinds, by name.
    pub fn kinds(&self) -> &BTreeMap<String, Kind> {
        &self.kinds
    }

    /// The kind named `name`, or a diagnostic listing the kinds there are.
    pub fn kind(&self, name: &str) -> Result<&Kind, Diagnostic> {
        self.kinds.get(name).ok_or_else(|| {
            let names = self.kinds.keys().map(String::as_str);
            let d = Diagnostic::new(format!("there is no message kind `{name}`"));
            match crate::diag::closest(name, names.clone()) {
                Some(best) => d.hint(format!("did you mean `{best}`?")),
                None => d.hint(format!("the kinds are {}", crate::diag::backticked(names))),
            }
        })
    }

    /// The layouts' files and bytes, for approval digests.
    pub fn layouts(&self) -> impl Iterator<Item = (&str, &Path, &[u8])> {
        self.layouts
            .iter()
            .map(|(n, (p, b))| (n.as_str(), p.as_path(), b.as_slice()))
    }

    /// Render the message of `kind` for one recipient.
    pub fn render(&self, kind: &Kind, inputs: &Inputs<'_>) -> Result<Rendered, Diagnostics> {
        self.render_in(kind, &self.context_of(inputs)?)
    }

    /// The template context of `inputs`. A blast builds it once and changes only `recipient`
    /// per message (see [`Engine::with_recipient`]), then renders with [`Engine::render_in`].
    pub fn context_of(&self, inputs: &Inputs<'_>) -> Result<tera::Context, Diagnostics> {
        self.context(&inputs.context())
    }

    /// `context` with `recipient` in place of the one it was built with.
    pub fn with_recipient(context: &tera::Context, recipient: &Recipient) -> tera::Context {
        let mut context = context.clone();
        context.insert("recipient", recipient);
        context
    }

    /// Render the message of `kind` in a context made by [`Engine::context_of`].
    pub fn render_in(&self, kind: &Kind, ctx: &tera::Context) -> Result<Rendered, Diagnostics> {
        let mut problems = Diagnostics::default();
        let mut render = |f: &Field| match self.text.render(&f.name, ctx) {
            Ok(s) => s,
            Err(e) => {
                problems.push(self.diagnose(&f.name, &kind.source, &e));
                String::new()
            }
        };
        let base_fields: Vec<String> = kind.message.iter().map(&mut render).collect();
        let mut overrides = BTreeMap::new();
        for (channel, fields) in &kind.overrides {
            let mut texts = base_fields.clone();
            for (i, f) in fields {
                texts[*i] = render(f);
            }
            overrides.insert(channel.clone(), message(texts));
        }
        let rendered = Rendered {
            kind: kind.name.clone(),
            base: message(base_fields),
            overrides,
        };
        problems.into_result(rendered).map_err(|e| e.0)
    }

    /// Render the call script of `kind`.
    pub fn render_script(&self, kind: &Kind, inputs: &Inputs<'_>) -> Result<Script, Diagnostics> {
        let ctx = self.context(&inputs.context())?;
        let mut problems = Diagnostics::default();
        let mut render = |f: &Field| match self.text.render(&f.name, &ctx) {
            Ok(s) => s.trim().to_string(),
            Err(e) => {
                problems.push(self.diagnose(&f.name, &kind.source, &e));
                String::new()
            }
        };
        let s = &kind.script;
        let script = Script {
            opening: render(&s.opening),
            key_points: s.key_points.iter().map(&mut render).collect(),
            faq: s
                .faq
                .iter()
                .map(|(q, a)| Faq {
                    q: render(q),
                    a: render(a),
                })
                .collect(),
            do_not_say: s.do_not_say.iter().map(&mut render).collect(),
            escalate: s.escalate.iter().map(&mut render).collect(),
            closing: render(&s.closing),
        };
        problems.into_result(script).map_err(|e| e.0)
    }

    /// Render layout `name` (`email.html`) with `value` as its context.
    pub fn render_layout(
        &self,
        name: &str,
        value: &impl serde::Serialize,
    ) -> Result<String, Diagnostic> {
        let ctx = tera::Context::from_serialize(value).map_err(|e| {
            Diagnostic::new(format!("cannot build the context of layout `{name}`: {e}"))
        })?;
        self.html.render(name, &ctx).map_err(|e| {
            let text = self
                .layouts
                .get(name)
                .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            self.diagnose(name, &text, &e)
        })
    }

    fn context(&self, value: &impl serde::Serialize) -> Result<tera::Context, Diagnostics> {
        tera::Context::from_serialize(value).map_err(|e| {
            single(Diagnostic::new(format!(
                "cannot build the template context: {e}"
            )))
        })
    }

    /// A Tera error on template `name` (whose file text is `source`) as a diagnostic at file:line:col.
    fn diagnose(&self, name: &str, source: &str, error: &tera::Error) -> Diagnostic {
        let origin = self.origins.get(name);
        let field = name.rsplit_once(':').map_or(name, |(_, f)| f);
        let (message, span) = tera_report(error);
        let what = match origin {
            Some(o) if !o.kind.is_empty() => format!("`{field}` of kind `{}`", o.kind),
            _ => format!("layout `{name}`"),
        };
        let mut d = Diagnostic::new(format!("cannot render {what}: {message}")).field(field);
        if let Some(origin) = origin {
            d = match span {
                Some(span) => d.at(file_location(&origin.path, source, origin.start, &span)),
                None => d.in_file(&origin.path),
            };
        }
        d.hint(hint_for(&message))
    }
}

/// Tera for kind strings: `*.body` templates escape values for Markdown; nothing else escapes.
fn text_tera() -> tera::Tera {
    let mut t = tera::Tera::new();
    t.autoescape_on([".body"]);
    t.set_escape_fn(markdown::escape);
    t
}

fn kind_files(dir: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Diagnostic::new(format!(
            "cannot read the templates folder `{}`: {e}",
            dir.display()
        ))
        .in_file(dir)
        .hint(
            "set `templates = \"…\"` in crier.toml to the folder holding `update.toml` and friends",
        )
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .filter(|p| p.file_name().is_some_and(|n| n != super::APPROVALS_FILE))
        .collect();
    files.sort();
    Ok(files)
}

fn single(d: Diagnostic) -> Diagnostics {
    let mut all = Diagnostics::default();
    all.push(d);
    all
}

fn message(mut fields: Vec<String>) -> Message {
    let body = fields.pop().unwrap_or_default();
    let summary = fields.pop().unwrap_or_default();
    let headline = fields.pop().unwrap_or_default();
    let subject = fields.pop().unwrap_or_default();
    Message {
        subject: subject.trim().to_string(),
        headline: headline.trim().to_string(),
        summary: summary.split_whitespace().collect::<Vec<_>>().join(" "),
        body: Markdown::parse(&body),
    }
}

/// The message and template position of a Tera error, looking through its sources.
fn tera_report(error: &tera::Error) -> (String, Option<tera::Span>) {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut messages = Vec::new();
    let mut span = None;
    while let Some(e) = current {
        if let Some(te) = e.downcast_ref::<tera::Error>() {
            match te.kind() {
                tera::ErrorKind::SyntaxError(r) | tera::ErrorKind::RenderingError(r) => {
                    messages.push(r.message().to_string());
                    span = span.or_else(|| Some(r.span().clone()));
                }
                _ => messages.push(te.to_string()),
            }
        } else {
            messages.push(e.to_string());
        }
        current = e.source();
    }
    messages.dedup();
    (messages.join(": "), span)
}

/// The file position of a Tera span in a template whose text starts at byte `start` of `source`.
fn file_location(path: &Path, source: &str, start: usize, span: &tera::Span) -> Location {
    let mut loc = Location::at_offset(path, source, start);
    if span.start_line <= 1 {
        loc.column += span.start_col;
    } else {
        loc.line += span.start_line - 1;
        loc.column = span.start_col + 1;
    }
    loc
}

fn hint_for(message: &str) -> String {
    if message.contains("not found") || message.contains("not defined") {
        "templates can use `incident`, `slots`, `recipient`, `company` and `now`; a slot must be declared under `[slots]`".into()
    } else {
        "fix the template; Tera syntax is `{{ value }}` and `{% if … %}…{% endif %}`".into()
    }
}
