//! The languages stalltrace writes in: English and Simplified Chinese.
//!
//! Every stage keeps facts typed; only the report stage turns them into
//! sentences. Whatever words a typed value (a warning, a finding's facts, a
//! remedy) writes about itself, it writes in both languages side by side,
//! with [`tr!`](crate::tr): a missing language is a compile error, not a
//! blank in the report. Ids, kinds and numbers in the JSON stay the same in
//! either language.
//!
//! Chinese follows the usual copywriting conventions: a space between
//! Chinese characters and Latin letters or digits, none between a number's
//! unit (秒, 毫秒) and the Chinese that follows, and full-width punctuation.

use serde::Serialize;

use crate::TimeDelta;

#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
pub enum Lang {
    #[default]
    #[serde(rename = "en")]
    En,
    #[serde(rename = "zh-CN")]
    ZhCn,
}

/// Picks the sentence for the language; only the chosen one is evaluated.
#[macro_export]
macro_rules! tr {
    ($lang:expr, $en:expr, $zh:expr $(,)?) => {
        match $lang {
            $crate::Lang::En => $en,
            $crate::Lang::ZhCn => $zh,
        }
    };
}

impl Lang {
    /// "en", "en_US.UTF-8", "zh-CN", "zh_CN.UTF-8", "zh", ...
    pub fn parse(s: &str) -> Option<Lang> {
        let s = s.trim().to_ascii_lowercase();
        if s.starts_with("zh") {
            Some(Lang::ZhCn)
        } else if s.starts_with("en") || s == "c" || s == "posix" || s.starts_with("c.") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// From LC_ALL, LC_MESSAGES or LANG, as gettext looks; English otherwise.
    pub fn from_env() -> Lang {
        for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let Ok(v) = std::env::var(var) {
                if !v.is_empty() {
                    return Lang::parse(&v).unwrap_or(Lang::En);
                }
            }
        }
        Lang::En
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// A duration as people read it: "34.5 s" / "34.5 秒".
    pub fn dur(self, d: TimeDelta) -> String {
        let s = d.to_string();
        match self {
            Lang::En => s,
            Lang::ZhCn => s
                .replace(" ms", " 毫秒")
                .replace(" µs", " 微秒")
                .replace(" ns", " 纳秒")
                .replace(" s", " 秒"),
        }
    }

    /// Seconds as a whole number with its unit: "+21 s" / "+21 秒".
    pub fn secs(self, s: f64) -> String {
        tr!(self, format!("{s:.0} s"), format!("{s:.0} 秒"))
    }

    /// Offsets such as "+0, +3.0, +9.0 s" / "+0、+3.0、+9.0 秒".
    pub fn offsets(self, v: &[TimeDelta]) -> String {
        let parts: Vec<String> = v
            .iter()
            .map(|a| {
                if a.nanos() == 0 {
                    "+0".into()
                } else {
                    format!("+{:.1}", a.secs_f64())
                }
            })
            .collect();
        tr!(
            self,
            format!("{} s", parts.join(", ")),
            format!("{} 秒", parts.join("、"))
        )
    }

    /// Joins a list: "a, b" / "a、b".
    pub fn list(self, v: &[String]) -> String {
        v.join(tr!(self, ", ", "、"))
    }

    /// "1 SYN", "3 SYNs": English plurals by an `s`; Chinese has none.
    pub fn count(self, n: u64, one: &str, many: &str) -> String {
        match self {
            Lang::En if n == 1 => format!("1 {one}"),
            Lang::En => format!("{n} {many}"),
            Lang::ZhCn => format!("{n} {many}"),
        }
    }

    /// The full stop of a sentence.
    pub fn stop(self) -> &'static str {
        tr!(self, ".", "。")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locale_names() {
        assert_eq!(Lang::parse("zh_CN.UTF-8"), Some(Lang::ZhCn));
        assert_eq!(Lang::parse("zh-CN"), Some(Lang::ZhCn));
        assert_eq!(Lang::parse("en_GB.UTF-8"), Some(Lang::En));
        assert_eq!(Lang::parse("C.UTF-8"), Some(Lang::En));
        assert_eq!(Lang::parse("fr_FR"), None);
    }

    #[test]
    fn durations_in_chinese() {
        assert_eq!(
            Lang::ZhCn.dur(TimeDelta::from_nanos(34_500_000_000)),
            "34.5 秒"
        );
        assert_eq!(Lang::ZhCn.dur(TimeDelta::from_nanos(2_771_000)), "2.8 毫秒");
        assert_eq!(
            Lang::ZhCn.offsets(&[TimeDelta::ZERO, TimeDelta::from_secs(3)]),
            "+0、+3.0 秒"
        );
    }

    #[test]
    fn plurals() {
        assert_eq!(Lang::En.count(1, "SYN", "SYNs"), "1 SYN");
        assert_eq!(Lang::En.count(4, "SYN", "SYNs"), "4 SYNs");
        assert_eq!(Lang::ZhCn.count(1, "个 SYN", "个 SYN"), "1 个 SYN");
    }
}
