//! What the field knows, as data: which services speak first and which
//! daemons announce themselves how, how TCP stacks retry a SYN, and which
//! programs wait how long. Sources are in `docs/field-facts.md`; re-check a
//! fact there before changing it here.

pub mod services;
pub mod stacks;
pub mod timers;

pub use services::{Daemon, DaemonSeen, Service, Speaker};
pub use stacks::{SynStack, SYN_STACKS};
pub use timers::{AppTimer, TimerPurpose};
