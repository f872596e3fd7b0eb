//! tcpdump's printed DNS (print-domain.c), back into the message it
//! printed: `4242+ PTR? 10.2.0.192.in-addr.arpa. (41)` is a query,
//! `4242 NXDomain 0/1/0 (100)` and `4242* 1/0/0 PTR host.example. (70)`
//! are answers, `-vv` adds `q: A? name.` to them.

use stalltrace_decode::dns::{type_number, DnsAnswer, DnsMessage, DnsQuestion};

/// The rcode names tcpdump prints (`ns_rcode` in print-domain.c).
fn rcode(word: &str) -> Option<u8> {
    Some(match word {
        "FormErr" => 1,
        "ServFail" => 2,
        "NXDomain" => 3,
        "NotImp" => 4,
        "Refused" => 5,
        _ => return None,
    })
}

fn counts(word: &str) -> Option<u16> {
    let mut it = word.split('/');
    let answers = it.next()?.parse().ok()?;
    let (Some(_), Some(_), None) = (it.next(), it.next(), it.next()) else {
        return None;
    };
    Some(answers)
}

fn name(word: &str) -> String {
    word.trim_end_matches(',').trim_end_matches('.').to_string()
}

/// The DNS message a UDP (or TCP) line to or from port 53 prints, if it
/// prints one.
pub(super) fn parse_dns(body: &str) -> Option<DnsMessage> {
    let body = body.split(" (").next().unwrap_or(body);
    let words: Vec<&str> = body.split_whitespace().collect();
    let first = words.first()?;
    let digits: String = first.chars().take_while(|c| c.is_ascii_digit()).collect();
    let id: u16 = digits.parse().ok()?;
    let mut m = DnsMessage {
        id,
        response: false,
        truncated: first.contains('|'),
        rcode: 0,
        question: None,
        answers: Vec::new(),
        answer_count: 0,
    };
    let mut i = 1;
    while i < words.len() {
        let w = words[i];
        if let Some(t) = w.strip_suffix('?') {
            if let (Some(qtype), Some(n)) = (type_number(t), words.get(i + 1)) {
                m.question = Some(DnsQuestion {
                    name: name(n),
                    qtype,
                });
                i += 2;
                continue;
            }
        } else if let Some(r) = rcode(w) {
            m.response = true;
            m.rcode = r;
        } else if let Some(n) = counts(w) {
            m.response = true;
            m.answer_count = n;
        } else if m.response && m.answer_count > 0 {
            // "A 192.0.2.7," "PTR host.example.," "CNAME a.example.,"
            if let (Some(t), Some(v)) = (type_number(w), words.get(i + 1)) {
                let value = v.trim_end_matches(',');
                let answer = match t {
                    1 | 28 => value.parse().ok().map(DnsAnswer::Address),
                    _ => Some(DnsAnswer::Name {
                        rtype: t,
                        name: name(value),
                    }),
                };
                if let Some(a) = answer {
                    m.answers.push(a);
                }
                i += 2;
                continue;
            }
        }
        i += 1;
    }
    // Neither a question nor a count: not DNS as tcpdump prints it.
    (m.question.is_some() || m.response).then_some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_and_answers_as_tcpdump_prints_them() {
        let q = parse_dns("4242+ PTR? 10.2.0.192.in-addr.arpa. (41)").unwrap();
        assert_eq!((q.id, q.response), (4242, false));
        let question = q.question.unwrap();
        assert_eq!(
            (question.name.as_str(), question.qtype),
            ("10.2.0.192.in-addr.arpa", 12)
        );
        let q = parse_dns("61953+ [1au] AAAA? example.com. (40)").unwrap();
        assert_eq!(q.question.unwrap().qtype, 28);
        let r = parse_dns("4242 NXDomain 0/1/0 (100)").unwrap();
        assert_eq!((r.response, r.rcode, r.answer_count), (true, 3, 0));
        let r = parse_dns("55014 2/0/0 CNAME www.example.com., A 93.184.216.34 (68)").unwrap();
        assert_eq!(r.answers.len(), 2);
        assert_eq!(
            r.answers[1],
            DnsAnswer::Address("93.184.216.34".parse().unwrap())
        );
        let r = parse_dns("4242 q: PTR? 10.2.0.192.in-addr.arpa. 1/0/0 10.2.0.192.in-addr.arpa. PTR host.example. (70)").unwrap();
        assert!(r.response && r.question.is_some());
        assert!(parse_dns("UDP, length 44").is_none());
    }
}
