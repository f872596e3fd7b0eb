//! # stalltrace-lab
//!
//! Beside stalltrace's pipeline, feeding it captures: rebuilds the seed
//! report's test environments, and the variants it left "to be verified",
//! in Linux network namespaces with the real kernel TCP stack and real
//! nftables NAT. A POP3 server that makes an RFC 1413 ident lookup before
//! it greets, an identd and a client run inside them (all in Rust, on
//! threads moved into the namespaces); AF_PACKET sockets capture at the
//! firewall's `eth1` (outside) and `eth2` (inside), at the client and at
//! the server, into pcapng files that `stalltrace analyze` reads.
//!
//! Beside the seed's login, the network's own waits (`faults/`, one file
//! each): a request lost on its way, a reader that stops, Nagle meeting a
//! delayed ACK, a PMTU black hole, a full listen queue, a middlebox's idle
//! timeout, IPv6 dropped beside IPv4, refusals by host and by device, each
//! with a client and server of its own, run with [`run_fault`].
//!
//! Scenarios are data (`scenarios/*.toml`). Every namespace is removed at
//! the end of a run, on error, on panic and on Ctrl-C. Needs root, `ip`
//! (iproute2) and `nft` (nftables). Addresses: 192.168.1.0/24 and
//! 2001:db8:1::/64 inside, 203.0.113.0/24 and 2001:db8:2::/64 outside, only
//! on the lab's own namespaces.
//!
//! ```no_run
//! use stalltrace_lab::{run, Scenario};
//! let s = Scenario::find("env1-drop").unwrap();
//! let r = run(&s, std::time::Duration::from_secs(3), "out".as_ref()).unwrap();
//! println!("greeting after {:?}", r.login.to_greeting);
//! ```

pub mod actors;
pub mod capture;
mod error;
mod fault_run;
mod faults;
pub mod netns;
pub mod programs;
mod run;
pub mod scenario;
pub mod topology;

pub use error::LabError;
pub use fault_run::{run_fault, FaultOutcome};
pub use faults::Measured;
pub use run::*;
pub use scenario::Scenario;
pub use topology::{CaptureFile, INSIDE_CLIENT, NAT_PORTS, SERVER};
