//! Network namespaces of our own, and nothing left behind: every namespace
//! is deleted when its guard drops (also on panic), and on SIGINT/SIGTERM a
//! watcher thread deletes every live one before the process exits.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, Once};
use std::thread::JoinHandle;

use crate::error::{io_err, LabError};

static LIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());
static SEQ: AtomicU64 = AtomicU64::new(0);
static WATCH: Once = Once::new();
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// A SIGINT or SIGTERM came: the watcher is deleting the namespaces and
/// will end the process.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Once interrupted, waits for the watcher to end the process with
/// 128 + the signal. Meanwhile the run's commands fail in namespaces that
/// are being deleted; that failure must not become the run's outcome.
pub fn yield_to_interrupt() {
    if interrupted() {
        loop {
            std::thread::park();
        }
    }
}

/// Checks root and the tools the lab drives.
pub fn check_prerequisites() -> Result<(), LabError> {
    if unsafe { libc::geteuid() } != 0 {
        return Err(LabError::NotRoot);
    }
    for (tool, package) in [("ip", "iproute2"), ("nft", "nftables")] {
        let found = Command::new(tool)
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !found {
            return Err(LabError::MissingTool { tool, package });
        }
    }
    Ok(())
}

/// Deletes the lab's namespaces on Ctrl-C or SIGTERM, then exits 130.
pub fn install_interrupt_cleanup() {
    WATCH.call_once(|| {
        let Ok(mut signals) = signal_hook::iterator::Signals::new([
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
        ]) else {
            return;
        };
        std::thread::spawn(move || {
            if let Some(sig) = signals.forever().next() {
                INTERRUPTED.store(true, Ordering::SeqCst);
                let names: Vec<String> = LIVE.lock().map(|l| l.clone()).unwrap_or_default();
                for n in &names {
                    let _ = Command::new("ip")
                        .args(["netns", "delete", n])
                        .stderr(Stdio::null())
                        .status();
                }
                eprintln!(
                    "stalltrace lab: interrupted; removed {} network namespace(s)",
                    names.len()
                );
                std::process::exit(128 + sig);
            }
        });
    });
}

fn run(cmd: &mut Command, input: Option<&str>) -> Result<String, LabError> {
    let shown = format!("{cmd:?}").replace('"', "");
    let mut child = cmd
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io_err(format!("cannot run {shown}")))?;
    if let Some(text) = input {
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(text.as_bytes())
            .map_err(io_err(format!("writing to {shown}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(io_err(format!("waiting for {shown}")))?;
    if !out.status.success() {
        return Err(LabError::Command {
            command: shown,
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

/// A network namespace created for one lab run.
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `st<pid>-<n>-<role>`: unique per process and run, so
    /// parallel runs never collide.
    pub fn create(role: &str) -> Result<Netns, LabError> {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let name = format!("st{}-{n}-{role}", std::process::id());
        // Registered first, so an interrupt during creation still removes it.
        LIVE.lock().expect("registry").push(name.clone());
        let ns = Netns { name };
        run(Command::new("ip").args(["netns", "add", &ns.name]), None)?;
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n <ns> ...`
    pub fn ip(&self, args: &[&str]) -> Result<String, LabError> {
        run(
            Command::new("ip").arg("-n").arg(&self.name).args(args),
            None,
        )
    }

    /// `ip netns exec <ns> <program> ...`, with optional standard input.
    pub fn exec(
        &self,
        program: &str,
        args: &[&str],
        input: Option<&str>,
    ) -> Result<String, LabError> {
        run(
            Command::new("ip")
                .args(["netns", "exec", &self.name, program])
                .args(args),
            input,
        )
    }

    /// Loads an nftables ruleset into the namespace.
    pub fn nft(&self, ruleset: &str) -> Result<(), LabError> {
        self.exec("nft", &["-f", "-"], Some(ruleset)).map(|_| ())
    }

    /// Writes a sysctl under /proc/sys/net, which follows the writer's
    /// network namespace.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<(), LabError> {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        let value = value.to_string();
        self.spawn(move || std::fs::write(&path, value).map_err(io_err(format!("writing {path}"))))
            .join()
            .map_err(|_| LabError::Command {
                command: "sysctl".into(),
                detail: "thread panicked".into(),
            })?
    }

    /// Runs `f` on a new thread inside the namespace. Sockets it opens
    /// belong to the namespace; the rest of the process is untouched.
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, LabError> + Send + 'static,
    ) -> JoinHandle<Result<T, LabError>> {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let fd = std::fs::File::open(&path).map_err(io_err(format!("opening {path}")))?;
            // setns with CLONE_NEWNET moves only the calling thread.
            let rc = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
            if rc != 0 {
                return Err(LabError::Io {
                    what: format!("setns {path}"),
                    source: std::io::Error::last_os_error(),
                });
            }
            f()
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .stderr(Stdio::null())
            .status();
        if let Ok(mut l) = LIVE.lock() {
            l.retain(|n| n != &self.name);
        }
    }
}

/// Namespaces this process still holds (for tests of the cleanup).
pub fn live_namespaces() -> Vec<String> {
    LIVE.lock().map(|l| l.clone()).unwrap_or_default()
}
