//! The Markdown `body`: parsed once per message, then written out as HTML, plain text, Slack
//! mrkdwn or chat Markdown from the same event stream.
//!
//! Raw HTML in the source is never passed through: it is shown as text. Links other than
//! `http(s)`, `mailto` and `tel` become plain text. Operator and recipient values arrive here
//! already escaped for Markdown (see [`escape`]), so they can only ever be text.

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// A Markdown body with its HTML and plain-text forms (made once, when it is parsed; the chat
/// forms, needed once per blast, parse the source again).
#[derive(Debug, Clone)]
pub struct Markdown {
    source: String,
    html: String,
    text: String,
}

/// The neutralised events of `source`, borrowing from it.
fn events(source: &str) -> Vec<Event<'_>> {
    Parser::new_ext(source, Options::ENABLE_STRIKETHROUGH)
        .map(neutralise)
        .collect()
}

impl Markdown {
    /// Parse `source` and produce the HTML and plain-text forms.
    pub fn parse(source: &str) -> Markdown {
        let events = events(source);
        let mut html = String::with_capacity(source.len() * 3 / 2);
        pulldown_cmark::html::push_html(&mut html, events.iter().cloned());
        let text = Emitter::new(&PlainText).run(&events).join("\n\n");
        Markdown {
            source: source.to_string(),
            html,
            text,
        }
    }

    /// The Markdown as written (with operator values escaped).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Safe HTML: no raw HTML from the source, only known link schemes.
    pub fn html(&self) -> &str {
        &self.html
    }

    /// Plain text: paragraphs separated by a blank line, lists with `-`, links as `text (url)`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Slack mrkdwn, one string per top-level block (paragraph, list, heading).
    pub fn mrkdwn_blocks(&self) -> Vec<String> {
        Emitter::new(&Mrkdwn).run(&events(&self.source))
    }

    /// The small HTML subset Google Chat cards render (`<b>`, `<i>`, `<s>`, `<a>`), one string per block.
    pub fn chat_html_blocks(&self) -> Vec<String> {
        Emitter::new(&ChatHtml).run(&events(&self.source))
    }

    /// CommonMark for chat platforms that render it (Discord, Mattermost, Teams), one string per
    /// block; mentions in its text defused ([`defuse_mentions`]).
    pub fn chat_markdown_blocks(&self) -> Vec<String> {
        Emitter::new(&ChatMarkdown).run(&events(&self.source))
    }
}

/// Escape a value for Markdown so it is shown exactly as typed and never becomes markup.
/// Used as the Tera escape function of every `body` template.
pub fn escape(input: &str, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    out.write_all(escape_str(input).as_bytes())
}

/// [`escape`] into a new string.
pub fn escape_str(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + 8);
    for (i, line) in input.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        escape_line(line, &mut out);
    }
    out
}

/// Escape one line: inline markup anywhere, block markers (`- `, `1. `, `=`) at its start.
/// Its indentation is dropped: four spaces or a tab at the start of a paragraph would make the
/// value a code block (unescaped, mentions live), and Markdown shows no indentation anyway.
fn escape_line(line: &str, out: &mut String) {
    let body = line.trim_start_matches([' ', '\t']);
    let digits = body.len() - body.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let list_marker = digits > 0 && body[digits..].starts_with(['.', ')']);
    for (i, c) in body.char_indices() {
        let at_start = i == 0 && matches!(c, '-' | '+' | '=');
        let after_digits = list_marker && i == digits;
        if at_start
            || after_digits
            || matches!(
                c,
                '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~' | '&' | '!'
            )
        {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Escape the characters chat platforms' Markdown reads inline (`*`, `_`, `~`, `` ` ``, `|`,
/// brackets, angle brackets, `#`, the backslash), so text shows exactly as written.
pub fn escape_inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '~' | '|' | '[' | ']' | '<' | '>' | '#'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Put a zero-width space after every `@` that starts a word (not inside an email address):
/// `@everyone` reads the same and notifies nobody, on chat platforms that read mentions in text.
pub fn defuse_mentions(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev: Option<char> = None;
    for c in s.chars() {
        out.push(c);
        if c == '@' && !prev.is_some_and(|p| p.is_alphanumeric()) {
            out.push('\u{200B}');
        }
        prev = Some(c);
    }
    out
}

/// Escape text for HTML (`&`, `<`, `>`, `"`, `'`).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Raw HTML becomes text; links with unsafe schemes lose their link.
fn neutralise(event: Event<'_>) -> Event<'_> {
    match event {
        Event::Html(s) | Event::InlineHtml(s) => Event::Text(s),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) if !safe_url(&dest_url) => Event::Start(Tag::Link {
            link_type,
            dest_url: CowStr::Borrowed(""),
            title,
            id,
        }),
        Event::Start(Tag::Image { .. }) => Event::Start(Tag::Emphasis),
        Event::End(TagEnd::Image) => Event::End(TagEnd::Emphasis),
        Event::Start(Tag::HtmlBlock) => Event::Start(Tag::Paragraph),
        Event::End(TagEnd::HtmlBlock) => Event::End(TagEnd::Paragraph),
        other => other,
    }
}

fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    ["https://", "http://", "mailto:", "tel:"]
        .iter()
        .any(|s| lower.starts_with(s))
}

/// How one text format writes the pieces of a document.
trait Dialect {
    fn text(&self, s: &str, out: &mut String);
    fn strong(&self) -> &'static str;
    fn emphasis(&self) -> &'static str;
    fn strike(&self) -> &'static str;
    fn code(&self, s: &str, out: &mut String);
    fn link(&self, text: &str, url: &str) -> String;
    fn heading(&self, level: HeadingLevel, text: &str) -> String;
    fn bullet(&self) -> &'static str;
    fn quote_prefix(&self) -> &'static str {
        "> "
    }
    fn fence(&self) -> &'static str {
        "```"
    }
    /// The marker that closes a span opened with `open` (the same one, for Markdown-like formats).
    fn closing(&self, open: &'static str) -> &'static str {
        open
    }
}

struct PlainText;
struct Mrkdwn;
struct ChatMarkdown;
struct ChatHtml;

impl Dialect for PlainText {
    fn text(&self, s: &str, out: &mut String) {
        out.push_str(s);
    }
    fn strong(&self) -> &'static str {
        ""
    }
    fn emphasis(&self) -> &'static str {
        ""
    }
    fn strike(&self) -> &'static str {
        ""
    }
    fn code(&self, s: &str, out: &mut String) {
        out.push_str(s);
    }
    fn link(&self, text: &str, url: &str) -> String {
        let bare = url
            .strip_prefix("mailto:")
            .or_else(|| url.strip_prefix("tel:"))
            .unwrap_or(url);
        if url.is_empty() || text == url || text == bare {
            text.to_string()
        } else {
            format!("{text} ({bare})")
        }
    }
    fn heading(&self, _: HeadingLevel, text: &str) -> String {
        text.to_string()
    }
    fn bullet(&self) -> &'static str {
        "- "
    }
    fn quote_prefix(&self) -> &'static str {
        "  "
    }
    fn fence(&self) -> &'static str {
        ""
    }
}

impl Dialect for Mrkdwn {
    fn text(&self, s: &str, out: &mut String) {
        for c in s.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                c => out.push(c),
            }
        }
    }
    fn strong(&self) -> &'static str {
        "*"
    }
    fn emphasis(&self) -> &'static str {
        "_"
    }
    fn strike(&self) -> &'static str {
        "~"
    }
    fn code(&self, s: &str, out: &mut String) {
        out.push('`');
        self.text(&s.replace('`', "'"), out);
        out.push('`');
    }
    fn link(&self, text: &str, url: &str) -> String {
        if url.is_empty() {
            return text.to_string();
        }
        let url = url
            .replace('|', "%7C")
            .replace('>', "%3E")
            .replace('<', "%3C");
        format!("<{url}|{text}>")
    }
    fn heading(&self, _: HeadingLevel, text: &str) -> String {
        format!("*{text}*")
    }
    fn bullet(&self) -> &'static str {
        "• "
    }
}

impl Dialect for ChatMarkdown {
    /// Text escaped, and its mentions defused: only text, so a link's address keeps its `@`.
    fn text(&self, s: &str, out: &mut String) {
        out.push_str(&defuse_mentions(&escape_inline(s)));
    }
    fn strong(&self) -> &'static str {
        "**"
    }
    fn emphasis(&self) -> &'static str {
        "*"
    }
    fn strike(&self) -> &'static str {
        "~~"
    }
    fn code(&self, s: &str, out: &mut String) {
        out.push('`');
        out.push_str(&s.replace('`', "'"));
        out.push('`');
    }
    fn link(&self, text: &str, url: &str) -> String {
        if url.is_empty() {
            return text.to_string();
        }
        let url = url.replace(')', "%29").replace(' ', "%20");
        format!("[{text}]({url})")
    }
    fn heading(&self, _: HeadingLevel, text: &str) -> String {
        format!("**{text}**")
    }
    fn bullet(&self) -> &'static str {
        "- "
    }
}

impl Dialect for ChatHtml {
    fn text(&self, s: &str, out: &mut String) {
        for c in s.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                c => out.push(c),
            }
        }
    }
    fn strong(&self) -> &'static str {
        "<b>"
    }
    fn emphasis(&self) -> &'static str {
        "<i>"
    }
    fn strike(&self) -> &'static str {
        "<s>"
    }
    fn code(&self, s: &str, out: &mut String) {
        out.push_str("<font face=\"monospace\">");
        self.text(s, out);
        out.push_str("</font>");
    }
    fn link(&self, text: &str, url: &str) -> String {
        if url.is_empty() {
            return text.to_string();
        }
        let mut href = String::new();
        self.text(url, &mut href);
        format!("<a href=\"{href}\">{text}</a>")
    }
    fn heading(&self, _: HeadingLevel, text: &str) -> String {
        format!("<b>{text}</b>")
    }
    fn bullet(&self) -> &'static str {
        "• "
    }
    fn quote_prefix(&self) -> &'static str {
        "    "
    }
    fn closing(&self, open: &'static str) -> &'static str {
        match open {
            "<b>" => "</b>",
            "<i>" => "</i>",
            "<s>" => "</s>",
            other => other,
        }
    }
}

/// Walks the event stream and writes top-level blocks in one dialect.
struct Emitter<'d> {
    dialect: &'d dyn Dialect,
    blocks: Vec<String>,
    /// Text of the block being written; nested inline buffers (links, headings) stack on top.
    stack: Vec<String>,
    lists: Vec<Option<u64>>,
    links: Vec<String>,
    quote_depth: usize,
    in_code_block: bool,
    depth: usize,
}

impl<'d> Emitter<'d> {
    fn new(dialect: &'d dyn Dialect) -> Self {
        Emitter {
            dialect,
            blocks: Vec::new(),
            stack: vec![String::new()],
            lists: Vec::new(),
            links: Vec::new(),
            quote_depth: 0,
            in_code_block: false,
            depth: 0,
        }
    }

    fn run(mut self, events: &[Event<'_>]) -> Vec<String> {
        for event in events {
            self.event(event);
        }
        self.blocks
    }

    fn out(&mut self) -> &mut String {
        self.stack.last_mut().expect("emitter stack is never empty")
    }

    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(*tag),
            Event::Text(s) if self.in_code_block => self.out().push_str(s),
            Event::Text(s) | Event::Html(s) | Event::InlineHtml(s) => {
                let mut buf = String::new();
                self.dialect.text(s, &mut buf);
                self.out().push_str(&buf);
            }
            Event::Code(s) | Event::InlineMath(s) | Event::DisplayMath(s) => {
                let mut buf = String::new();
                self.dialect.code(s, &mut buf);
                self.out().push_str(&buf);
            }
            Event::SoftBreak => self.out().push(' '),
            Event::HardBreak => self.newline(),
            Event::Rule => self.finish_block_with("———".into()),
            Event::TaskListMarker(done) => {
                let mark = if *done { "[x] " } else { "[ ] " };
                self.out().push_str(mark);
            }
            Event::FootnoteReference(s) => {
                let r = format!("[{s}]");
                self.out().push_str(&r);
            }
        }
    }

    fn newline(&mut self) {
        let indent = self.indent();
        self.out().push('\n');
        self.out().push_str(&indent);
    }

    fn indent(&self) -> String {
        let list = "  ".repeat(self.lists.len().saturating_sub(1));
        let quote = self.dialect.quote_prefix().repeat(self.quote_depth);
        format!("{quote}{list}")
    }

    fn start(&mut self, tag: &Tag<'_>) {
        let block = is_block(tag);
        if block {
            self.depth += 1;
        }
        match tag {
            Tag::Paragraph | Tag::HtmlBlock => self.separate(),
            Tag::Heading { .. } => {
                self.separate();
                self.stack.push(String::new());
            }
            Tag::BlockQuote(_) => {
                self.separate();
                self.quote_depth += 1;
                let prefix = self.dialect.quote_prefix();
                self.out().push_str(prefix);
            }
            Tag::CodeBlock(_) => {
                self.separate();
                self.in_code_block = true;
                let fence = self.dialect.fence();
                if !fence.is_empty() {
                    self.out().push_str(fence);
                    self.out().push('\n');
                }
            }
            Tag::List(first) => {
                if !self.lists.is_empty() {
                    self.newline();
                } else {
                    self.separate();
                }
                self.lists.push(*first);
            }
            Tag::Item => self.item(),
            Tag::Emphasis => self.mark(self.dialect.emphasis()),
            Tag::Strong => self.mark(self.dialect.strong()),
            Tag::Strikethrough => self.mark(self.dialect.strike()),
            Tag::Link { dest_url, .. } => {
                self.links.push(dest_url.to_string());
                self.stack.push(String::new());
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Heading(level) => {
                let text = self.stack.pop().unwrap_or_default();
                let h = self.dialect.heading(level, &text);
                self.out().push_str(&h);
            }
            TagEnd::BlockQuote(_) => self.quote_depth = self.quote_depth.saturating_sub(1),
            TagEnd::CodeBlock => {
                self.in_code_block = false;
                let fence = self.dialect.fence();
                let out = self.out();
                while out.ends_with('\n') {
                    out.pop();
                }
                if !fence.is_empty() {
                    out.push('\n');
                    out.push_str(fence);
                }
            }
            TagEnd::List(_) => {
                self.lists.pop();
            }
            TagEnd::Emphasis => self.mark(self.dialect.closing(self.dialect.emphasis())),
            TagEnd::Strong => self.mark(self.dialect.closing(self.dialect.strong())),
            TagEnd::Strikethrough => self.mark(self.dialect.closing(self.dialect.strike())),
            TagEnd::Link => {
                let text = self.stack.pop().unwrap_or_default();
                let url = self.links.pop().unwrap_or_default();
                let l = self.dialect.link(&text, &url);
                self.out().push_str(&l);
            }
            _ => {}
        }
        if is_block_end(tag) {
            self.depth -= 1;
            if self.depth == 0 {
                let block = std::mem::take(self.out());
                self.push_block(block);
            }
        }
    }

    fn mark(&mut self, marker: &str) {
        self.out().push_str(marker);
    }

    fn item(&mut self) {
        if !self.out().is_empty() && !self.out().ends_with('\n') {
            self.newline();
        }
        let bullet = match self.lists.last_mut() {
            Some(Some(n)) => {
                let b = format!("{n}. ");
                *n += 1;
                b
            }
            _ => self.dialect.bullet().to_string(),
        };
        self.out().push_str(&bullet);
    }

    /// Inside a block (a list item holding paragraphs), separate from what came before.
    fn separate(&mut self) {
        let inside_item = !self.lists.is_empty();
        let out = self.out();
        if out.is_empty() || out.ends_with(' ') || out.ends_with('\n') {
            return;
        }
        if inside_item {
            self.newline();
        } else {
            out.push_str("\n\n");
        }
    }

    fn finish_block_with(&mut self, text: String) {
        if self.depth == 0 {
            self.push_block(text);
        } else {
            self.out().push_str(&text);
        }
    }

    fn push_block(&mut self, block: String) {
        let block = block.trim_end().to_string();
        if !block.is_empty() {
            self.blocks.push(block);
        }
    }
}

fn is_block(tag: &Tag<'_>) -> bool {
    matches!(
        tag,
        Tag::Paragraph
            | Tag::Heading { .. }
            | Tag::BlockQuote(_)
            | Tag::CodeBlock(_)
            | Tag::HtmlBlock
            | Tag::List(_)
            | Tag::Table(_)
            | Tag::FootnoteDefinition(_)
            | Tag::DefinitionList
            | Tag::MetadataBlock(_)
    )
}

fn is_block_end(tag: TagEnd) -> bool {
    matches!(
        tag,
        TagEnd::Paragraph
            | TagEnd::Heading(_)
            | TagEnd::BlockQuote(_)
            | TagEnd::CodeBlock
            | TagEnd::HtmlBlock
            | TagEnd::List(_)
            | TagEnd::Table
            | TagEnd::FootnoteDefinition
            | TagEnd::DefinitionList
            | TagEnd::MetadataBlock(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "We are **sorry**.\n\nPlease:\n\n- don't retry *payments*\n- check [status](https://status.example.com)\n\n## Next\n\nAt 14:30 & later <b>.";

    #[test]
    fn html_escapes_raw_html_and_keeps_markup() {
        let md = Markdown::parse(DOC);
        assert!(md.html().contains("<strong>sorry</strong>"));
        assert!(
            md.html()
                .contains("<a href=\"https://status.example.com\">status</a>")
        );
        assert!(md.html().contains("&amp; later &lt;b&gt;."));
    }

    #[test]
    fn text_reads_naturally() {
        let md = Markdown::parse(DOC);
        assert_eq!(
            md.text(),
            "We are sorry.\n\nPlease:\n\n- don't retry payments\n- check status (https://status.example.com)\n\nNext\n\nAt 14:30 & later <b>."
        );
    }

    #[test]
    fn mrkdwn_escapes_control_characters() {
        let blocks = Markdown::parse(DOC).mrkdwn_blocks();
        assert_eq!(
            blocks,
            [
                "We are *sorry*.",
                "Please:",
                "• don't retry _payments_\n• check <https://status.example.com|status>",
                "*Next*",
                "At 14:30 &amp; later &lt;b&gt;."
            ]
        );
    }

    #[test]
    fn unsafe_links_lose_their_target() {
        let md = Markdown::parse("[click](javascript:alert(1))");
        assert!(!md.html().contains("javascript"));
        assert_eq!(md.text(), "click");
    }

    #[test]
    fn escaped_values_stay_text() {
        let value = "<script>alert(1)</script> **x** [a](https://e.com)\n- item\n1. one";
        let md = Markdown::parse(&escape_str(value));
        assert!(!md.html().contains("<script"));
        assert!(!md.html().contains("<strong>"));
        assert!(!md.html().contains("<a "));
        assert!(!md.html().contains("<li>"));
        assert_eq!(
            md.text(),
            "<script>alert(1)</script> **x** [a](https://e.com) - item 1. one"
        );
    }

    /// A value indented by a tab or four spaces, at the start of a paragraph, would be a code
    /// block: shown raw, its mentions live.
    #[test]
    fn an_indented_value_is_no_code_block() {
        for value in [
            "\t@everyone **x**",
            "    @everyone **x**",
            "a\n\n\t\t@here `x`",
        ] {
            let md = Markdown::parse(&format!("Intro.\n\n{}", escape_str(value)));
            assert!(!md.html().contains("<pre>"), "{value:?}: {}", md.html());
            let chat = md.chat_markdown_blocks().join("\n\n");
            assert!(!chat.contains("```"), "{value:?}: {chat}");
            assert!(
                !chat.contains("@everyone") && !chat.contains("@here"),
                "{chat}"
            );
        }
    }

    #[test]
    fn ordered_lists_count() {
        let blocks = Markdown::parse("1. one\n2. two").chat_markdown_blocks();
        assert_eq!(blocks, ["1. one\n2. two"]);
    }
}
