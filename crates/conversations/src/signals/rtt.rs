//! The handshake's two round trips as this capture point sees them: from
//! here to the server and back (the SYN to its SYN-ACK), and from here to
//! the client and back (the SYN-ACK to the ACK). A point at the client sees
//! nearly all of the round trip upstream; a point at the server, all of it
//! downstream. A wait measured here holds the upstream one: the request
//! (or the handshake's ACK) still had to reach the server, and its answer
//! to come back.

use serde::Serialize;
use stalltrace_decode::TimeDelta;

#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct HandshakeRtt {
    /// From the last SYN to the first SYN-ACK, here.
    pub upstream: Option<TimeDelta>,
    /// From the first SYN-ACK to the client's ACK, here.
    pub downstream: Option<TimeDelta>,
}
