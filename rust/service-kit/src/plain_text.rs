//! tracing-subscriber's text log format, written for less CPU when there are
//! no colours to draw: the same lines, byte for byte.
//!
//! Off a terminal, tracing-subscriber's `Full` format still sends every part
//! of a line through its ANSI styling wrappers and `write!`, and writes each
//! string field of a span through `Debug` escaping, character by character.
//! That was about 13,000 instructions per gRPC call, a sixth of the server's
//! whole cost per call (the call's span and its access line). These write
//! plain strings directly and escape only what needs it, and leave the rare
//! cases (messages, errors, events from the `log` crate) to tracing-subscriber.

use std::cell::RefCell;
use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::{DefaultVisitor, Format, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The fields of spans and events as tracing-subscriber's default formats
/// them without ANSI escapes: `name=value` separated by spaces, strings
/// quoted as `Debug` quotes them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PlainFields;

impl<'writer> MakeVisitor<Writer<'writer>> for PlainFields {
    type Visitor = PlainVisitor<'writer>;

    fn make_visitor(&self, writer: Writer<'writer>) -> Self::Visitor {
        PlainVisitor {
            writer,
            is_empty: true,
            result: Ok(()),
        }
    }
}

/// Writes one set of fields for [`PlainFields`].
#[derive(Debug)]
pub(crate) struct PlainVisitor<'writer> {
    writer: Writer<'writer>,
    is_empty: bool,
    result: fmt::Result,
}

impl PlainVisitor<'_> {
    /// Writes `name=` and then the value, after a space unless it is the
    /// first field; skips `log.` fields.
    fn field(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        let name = field.name();
        // As tracing-subscriber: `log.` fields are the metadata of events
        // from the `log` crate, shown elsewhere.
        if name.starts_with("log.") {
            return;
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        self.result = (|| {
            if !std::mem::take(&mut self.is_empty) {
                self.writer.write_char(' ')?;
            }
            self.writer.write_str(name)?;
            self.writer.write_char('=')?;
            value(&mut self.writer)
        })();
    }

    /// Writes a message (the `message` field): as tracing-subscriber writes
    /// it, without its name, and with the control characters a terminal
    /// could act on escaped unless the writer says not to.
    fn message(&mut self, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        self.result = (|| {
            if !std::mem::take(&mut self.is_empty) {
                self.writer.write_char(' ')?;
            }
            if self.writer.sanitizes_ansi_escapes() {
                write!(Sanitizing(&mut self.writer), "{value:?}")
            } else {
                write!(self.writer, "{value:?}")
            }
        })();
    }

    /// Leaves one field to tracing-subscriber's own visitor.
    fn default_visitor(&mut self, record: impl FnOnce(&mut DefaultVisitor<'_>)) {
        if self.result.is_err() {
            return;
        }
        let mut visitor = DefaultVisitor::new(self.writer.by_ref(), self.is_empty);
        record(&mut visitor);
        self.result = visitor.finish();
        // What is left to it (messages and errors) is always written.
        self.is_empty = false;
    }
}

impl Visit for PlainVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            return self.default_visitor(|visitor| visitor.record_str(field, value));
        }
        self.field(field, |writer| write_quoted(writer, value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "message" {
            return self.default_visitor(|visitor| visitor.record_u64(field, value));
        }
        self.field(field, |writer| {
            writer.write_str(itoa::Buffer::new().format(value))
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if field.name() == "message" {
            return self.default_visitor(|visitor| visitor.record_i64(field, value));
        }
        self.field(field, |writer| {
            writer.write_str(itoa::Buffer::new().format(value))
        });
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "message" {
            return self.default_visitor(|visitor| visitor.record_bool(field, value));
        }
        self.field(field, |writer| {
            writer.write_str(if value { "true" } else { "false" })
        });
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.default_visitor(|visitor| visitor.record_error(field, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            return self.message(value);
        }
        self.field(field, |writer| write!(writer, "{value:?}"));
    }
}

impl VisitOutput<fmt::Result> for PlainVisitor<'_> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

impl VisitFmt for PlainVisitor<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        &mut self.writer
    }
}

/// `value` as `{:?}` writes a string, without going character by character
/// when nothing in it needs escaping (request ids, paths, addresses).
fn write_quoted(writer: &mut Writer<'_>, value: &str) -> fmt::Result {
    if needs_no_escape(value) {
        writer.write_char('"')?;
        writer.write_str(value)?;
        writer.write_char('"')
    } else {
        write!(writer, "{value:?}")
    }
}

/// Whether `{:?}` writes `value` as it is, between quotes: printable ASCII
/// without quotes or backslashes. The bytes are folded with `&` rather than
/// checked with `all`, which stops at the first failure and so cannot be
/// vectorised: about 460 instructions less for an access line's path and
/// request id.
#[expect(
    clippy::needless_bitwise_bool,
    reason = "`&&` would branch on every byte and keep the fold from being vectorised"
)]
fn needs_no_escape(value: &str) -> bool {
    value.bytes().fold(true, |plain, byte| {
        plain & (b' '..=b'~').contains(&byte) & (byte != b'"') & (byte != b'\\')
    })
}

/// Escapes what passes through it as tracing-subscriber escapes messages
/// (the C0 controls ESC, BEL, BS and FF, DEL, and the C1 controls), but
/// writes the runs of text between them whole rather than a character at a
/// time: about 400 instructions less for an access line's message.
struct Sanitizing<'a, 'writer>(&'a mut Writer<'writer>);

impl fmt::Write for Sanitizing<'_, '_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut rest = text;
        while let Some((at, control)) = rest.char_indices().find(|&(_, c)| is_terminal_control(c)) {
            self.0.write_str(&rest[..at])?;
            match control {
                '\x1b' => self.0.write_str("\\x1b")?,
                '\x07' => self.0.write_str("\\x07")?,
                '\x08' => self.0.write_str("\\x08")?,
                '\x0c' => self.0.write_str("\\x0c")?,
                '\x7f' => self.0.write_str("\\x7f")?,
                c1 => write!(self.0, "\\u{{{:x}}}", u32::from(c1))?,
            }
            rest = &rest[at + control.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

/// A character that tracing-subscriber escapes in messages.
fn is_terminal_control(c: char) -> bool {
    matches!(
        c,
        '\x1b' | '\x07' | '\x08' | '\x0c' | '\x7f' | '\u{80}'..='\u{9f}'
    )
}

/// tracing-subscriber's `Full` text format without ANSI escapes:
/// `TIMESTAMP LEVEL span{fields}:span{fields}: target: fields`.
#[derive(Debug, Default)]
pub(crate) struct PlainText {
    /// Events from the `log` crate, whose metadata tracing-log rewrites, are
    /// left to tracing-subscriber's own format.
    full: Format,
}

impl<S> FormatEvent<S, PlainFields> for PlainText
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, PlainFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        if meta.fields().field("log.target").is_some() {
            return self.full.format_event(ctx, writer, event);
        }
        if format_now(&mut writer).is_err() {
            writer.write_str("<unknown time>")?;
        }
        writer.write_str(match *meta.level() {
            Level::TRACE => " TRACE ",
            Level::DEBUG => " DEBUG ",
            Level::INFO => "  INFO ",
            Level::WARN => "  WARN ",
            Level::ERROR => " ERROR ",
        })?;
        if let Some(scope) = ctx.event_scope() {
            let mut seen = false;
            for span in scope.from_root() {
                writer.write_str(span.metadata().name())?;
                seen = true;
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<PlainFields>>()
                    && !fields.is_empty()
                {
                    writer.write_char('{')?;
                    writer.write_str(fields)?;
                    writer.write_char('}')?;
                }
                writer.write_char(':')?;
            }
            if seen {
                writer.write_char(' ')?;
            }
        }
        writer.write_str(meta.target())?;
        writer.write_str(": ")?;
        ctx.format_fields(writer.by_ref(), event)?;
        writer.write_char('\n')
    }
}

thread_local! {
    /// The second of the last timestamp this thread wrote, and its text up
    /// to the seconds, which is all that changes once a second.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((0, String::new())) };
}

/// Writes the time now as tracing-subscriber's `SystemTime` does (RFC 3339,
/// UTC, microseconds), formatting the date and time of day once a second:
/// every time, they cost about 2,000 instructions a line.
fn format_now(writer: &mut Writer<'_>) -> fmt::Result {
    format_at(std::time::SystemTime::now(), writer)
}

fn format_at(now: std::time::SystemTime, writer: &mut Writer<'_>) -> fmt::Result {
    // Beyond the years 1970 to 9999, as tracing-subscriber does it.
    let since_epoch = now
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .filter(|since| since.as_secs() < LAST_SECOND_OF_9999);
    let Some(since_epoch) = since_epoch else {
        return SystemTime.format_time(writer);
    };
    let seconds = since_epoch.as_secs();
    SECOND.with_borrow_mut(|(second, text)| {
        if *second != seconds || text.is_empty() {
            let time = time::OffsetDateTime::from(now);
            text.clear();
            write!(
                text,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                time.year(),
                u8::from(time.month()),
                time.day(),
                time.hour(),
                time.minute(),
                time.second()
            )?;
            *second = seconds;
        }
        writer.write_str(text)?;
        let fraction = fraction_of_second(since_epoch.subsec_micros());
        writer.write_str(std::str::from_utf8(&fraction).expect("ASCII digits"))
    })
}

/// `.MMMMMMZ`: the microseconds (below a million) of a timestamp,
/// zero-padded, and its zone. Made by hand rather than by `write!` and its
/// padding, which go through `core::fmt` on every line.
fn fraction_of_second(micros: u32) -> [u8; 8] {
    let mut text = *b".000000Z";
    let mut rest = micros;
    for digit in text[1..7].iter_mut().rev() {
        // `rest % 10` is a digit.
        *digit = b'0' + u8::try_from(rest % 10).unwrap_or(0);
        rest /= 10;
    }
    text
}

/// 9999-12-31T23:59:59Z, in seconds since the epoch.
const LAST_SECOND_OF_9999: u64 = 253_402_300_799;

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    /// Collects what a subscriber writes.
    #[derive(Debug, Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Self;

        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] io::Error);

    /// Logs lines of every kind the services write, and a few odd ones.
    fn log_samples() {
        let span = tracing::info_span!(
            "grpc",
            path = "/Recommendations/Recommend",
            request_id = "7d1c-4e"
        );
        let _entered = span.enter();
        tracing::info!(code = ?tonic_like::Code::Ok, duration_us = 42_u64, "handled");
        let inner = tracing::info_span!(
            "inner",
            quote = "say \"hi\"\tand\\go",
            n = -3_i64,
            on = true
        );
        let entered_inner = inner.enter();
        let error = Outer(io::Error::other("root cause"));
        tracing::warn!(
            error = &error as &(dyn std::error::Error + 'static),
            "refused"
        );
        tracing::error!(
            r#type = "raw",
            unicode = "é ✓",
            empty = "",
            "message with \x1b[31m escape, \u{9b}, \x07 and \x7f"
        );
        drop(entered_inner);
        tracing::info!("no fields");
        tracing::debug!(answer = 42, ratio = 0.5, "numbers");
        let empty = tracing::info_span!("empty");
        let _empty = empty.enter();
        tracing::trace!(message = "a message field", other = %"displayed");
    }

    /// A stand-in for a `Debug` enum field, as `code = ?code` logs it.
    mod tonic_like {
        #[derive(Debug)]
        pub(super) enum Code {
            Ok,
        }
    }

    #[test]
    fn lines_are_those_of_tracing_subscribers_text_format() {
        let ours = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(Level::TRACE)
            .with_ansi(false)
            .with_writer(ours.clone())
            .fmt_fields(PlainFields)
            .event_format(PlainText::default())
            .finish();
        tracing::subscriber::with_default(subscriber, log_samples);

        let theirs = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(Level::TRACE)
            .with_ansi(false)
            .with_writer(theirs.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, log_samples);

        // The timestamps differ; everything after them must not.
        let strip = |text: String| {
            text.lines()
                .map(|line| line.split_once(' ').unwrap().1.to_owned())
                .collect::<Vec<_>>()
        };
        let (ours, theirs) = (strip(ours.text()), strip(theirs.text()));
        assert_eq!(ours.len(), 6, "{ours:#?}");
        assert_eq!(ours, theirs);
        assert_eq!(
            ours[0],
            " INFO grpc{path=\"/Recommendations/Recommend\" request_id=\"7d1c-4e\"}: \
             service_kit::plain_text::tests: handled code=Ok duration_us=42"
        );
    }

    #[test]
    fn timestamps_are_rfc_3339_in_utc_with_microseconds() {
        let at = |seconds: u64, micros: u64| {
            let now = std::time::UNIX_EPOCH
                + std::time::Duration::from_secs(seconds)
                + std::time::Duration::from_micros(micros);
            let mut text = String::new();
            format_at(now, &mut Writer::new(&mut text)).unwrap();
            text
        };
        assert_eq!(at(1_795_621_201, 123_456), "2026-11-25T15:40:01.123456Z");
        // The same second again comes from the cache, another one does not.
        assert_eq!(at(1_795_621_201, 7), "2026-11-25T15:40:01.000007Z");
        assert_eq!(at(1_795_621_202, 0), "2026-11-25T15:40:02.000000Z");
        assert_eq!(at(0, 999_999), "1970-01-01T00:00:00.999999Z");
        assert_eq!(at(951_782_400, 1), "2000-02-29T00:00:00.000001Z");
    }
}
