//! What the field knows, as data: which services speak first and which
//! daemons announce themselves how, how TCP stacks retry a SYN, and which
//! programs wait how long; TCP's own timers (minimum RTO, delayed ACK) and
//! middleboxes' idle timeouts. Sources are in `docs/field-facts.md`; re-check a
//! fact there before changing it here.

pub mod idle;
pub mod resolvers;
pub mod services;
pub mod stacks;
pub mod timers;
pub mod transport;

pub use idle::IdleTimeout;
pub use resolvers::Resolver;
pub use services::{Daemon, DaemonSeen, Service, Speaker};
pub use stacks::{SynStack, SYN_STACKS};
pub use timers::{AppTimer, TimerPurpose};
pub use transport::{DelayedAck, RtoFloor};
