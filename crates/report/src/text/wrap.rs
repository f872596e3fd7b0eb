//! Laying text into a width: prose wrapped at spaces (anywhere in Chinese),
//! a number kept with its unit, words longer than a line cut, and verbatim
//! lines (configuration, commands) continued the way their reader expects.
//!
//! Hand-written rather than `textwrap` because of two rules it lacks: a
//! number never ends a line before its unit ("34.3⏎s"), and a command is
//! continued with a shell `\` so that it can still be pasted.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Display columns (CJK characters take two), by `unicode-width`.
pub(crate) fn width_of(s: &str) -> usize {
    s.width()
}

fn char_width(c: char) -> usize {
    c.width().unwrap_or(0)
}

/// The words of `text`, a number kept with the unit after it ("34.3 s",
/// "1400 bytes"): a line never ends between them.
fn glued(text: &str) -> Vec<String> {
    const UNITS: &[&str] = &[
        "ns", "µs", "ms", "s", "s,", "s.", "s:", "s)", "min", "h", "bytes", "MiB", "KiB", "ppm",
        "times",
    ];
    let mut out: Vec<String> = Vec::new();
    for word in text.split(' ') {
        if let Some(prev) = out.last_mut() {
            let number = prev.ends_with(|c: char| c.is_ascii_digit());
            if number && UNITS.contains(&word) {
                prev.push(' ');
                prev.push_str(word);
                continue;
            }
        }
        out.push(word.to_string());
    }
    out
}

/// `text` in lines of at most `width` columns, the first starting with
/// `first`, the others with `indent`. Chinese text has no spaces, so it
/// may break between any two of its characters; any other word longer
/// than a line is cut where the line ends.
pub(crate) fn lines(first: &str, indent: &str, text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::from(first);
    let mut w = width_of(first);
    let mut fresh = true;
    let indent_w = width_of(indent);
    let mut flush = |line: &mut String, w: &mut usize| {
        out.push(line.trim_end().to_string());
        *line = String::from(indent);
        *w = indent_w;
    };
    for word in glued(text) {
        let ww = width_of(&word);
        if !fresh && w + 1 + ww > width {
            flush(&mut line, &mut w);
            fresh = true;
        }
        if !fresh {
            line.push(' ');
            w += 1;
        }
        if w + ww <= width {
            line.push_str(&word);
            w += ww;
        } else {
            // Only a word wider than a whole line (or Chinese) gets here.
            for c in word.chars() {
                let cw = char_width(c);
                if w + cw > width && w > indent_w {
                    flush(&mut line, &mut w);
                }
                line.push(c);
                w += cw;
            }
        }
        fresh = false;
    }
    out.push(line.trim_end().to_string());
    out
}

/// Appends `text` wrapped by [`lines`].
pub(crate) fn wrap(out: &mut String, first: &str, indent: &str, text: &str, width: usize) {
    for l in lines(first, indent, text, width) {
        out.push_str(&l);
        out.push('\n');
    }
}

/// Commands a remedy gives to type at a shell: a long one is continued
/// with `\`, which the shell joins back. Any other verbatim line (a
/// configuration file's) is broken at a space and its rest indented: the
/// reader joins it, as no continuation syntax is common to them all.
fn is_command(line: &str) -> bool {
    const COMMANDS: &[&str] = &[
        "nft",
        "iptables",
        "ip6tables",
        "sysctl",
        "ip",
        "ss",
        "ethtool",
        "systemctl",
        "echo",
        "tc",
        "conntrack",
        "sudo",
        "printf",
        "sed",
        "tcpdump",
        "dig",
    ];
    line.split_whitespace()
        .next()
        .is_some_and(|w| COMMANDS.contains(&w))
}

/// A verbatim line at `indent`, within `width`: unchanged when it fits,
/// else broken at spaces (a shell command with ` \`, see [`is_command`]).
pub(crate) fn verbatim(indent: &str, line: &str, width: usize) -> Vec<String> {
    if width_of(indent) + width_of(line) <= width {
        return vec![format!("{indent}{line}")];
    }
    let (more, tail) = if is_command(line) {
        (format!("{indent}    "), " \\")
    } else {
        (format!("{indent}    "), "")
    };
    // Leave room for the continuation mark on every line but the last.
    let room = width.saturating_sub(width_of(tail));
    let mut out = lines(indent, &more, line, room);
    let n = out.len();
    for l in out.iter_mut().take(n - 1) {
        l.push_str(tail);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A number is never split from its unit at a line's end ("34.3⏎s").
    #[test]
    fn a_number_stays_with_its_unit() {
        let mut o = String::new();
        wrap(&mut o, "", "", "the greeting came 34.3 s after the SYN", 22);
        assert_eq!(o, "the greeting came\n34.3 s after the SYN\n");
        let mut o = String::new();
        wrap(&mut o, "", "", "it sent 1400 bytes 12 times", 12);
        assert!(
            o.lines()
                .all(|l| !l.ends_with("1400") && !l.ends_with("12")),
            "{o}"
        );
    }

    /// A word longer than the line (a long file name) is cut, never
    /// left sticking out.
    #[test]
    fn a_long_word_is_cut_at_the_width() {
        let got = lines(
            "  ",
            "    ",
            "file /a/very/long/path/to/a/capture.pcap.gz here",
            20,
        );
        assert!(got.iter().all(|l| width_of(l) <= 20), "{got:?}");
        assert_eq!(
            got.concat().replace(' ', ""),
            "file/a/very/long/path/to/a/capture.pcap.gzhere"
        );
    }

    /// Chinese breaks between characters and counts two columns each.
    #[test]
    fn chinese_counts_two_columns() {
        let got = lines("", "", "服务器等待了三十秒的身份查询", 10);
        assert_eq!(got, ["服务器等待", "了三十秒的", "身份查询"]);
    }

    /// A long shell command continues with `\`; a configuration line
    /// without one; both within the width.
    #[test]
    fn verbatim_lines_continue_as_their_reader_expects() {
        let cmd = "nft add rule inet filter input tcp dport 113 reject with tcp reset";
        let got = verbatim("        ", cmd, 40);
        assert!(got.iter().all(|l| width_of(l) <= 40), "{got:?}");
        assert!(got[..got.len() - 1].iter().all(|l| l.ends_with(" \\")));
        let joined: Vec<&str> = got
            .iter()
            .flat_map(|l| l.split_whitespace())
            .filter(|w| *w != "\\")
            .collect();
        assert_eq!(joined.join(" "), cmd);
        let conf = "# remove ': rfc931' or ': rfc931 N' from the matching line";
        let got = verbatim("        ", conf, 40);
        assert!(got.iter().all(|l| width_of(l) <= 40 && !l.ends_with('\\')));
        assert_eq!(verbatim("    ", "UseDNS no", 40), ["    UseDNS no"]);
    }
}
