//! Network namespaces of our own, and nothing left behind: every namespace
//! is deleted when its guard drops (also on panic), and on SIGINT/SIGTERM a
//! watcher thread deletes every live one before the process exits. The
//! programs a namespace runs (real daemons, started through `ip netns
//! exec`) are killed first, and the files it was given under
//! `/etc/netns/<name>/` (its resolv.conf, its hosts) removed.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, Once};
use std::thread::JoinHandle;

use crate::error::{io_err, LabError};

static LIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());
static SEQ: AtomicU64 = AtomicU64::new(0);
/// Held while a namespace is being made, and by the interrupt watcher from
/// its start: a namespace whose `ip netns add` was under way when the
/// signal came is made before the watcher looks, never after it deleted.
static CREATING: Mutex<()> = Mutex::new(());
static WATCH: Once = Once::new();
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Output folders a run made and has not yet filled: removed if it is
/// interrupted, so that no empty or half-written folder is left.
static OUT_DIRS: Mutex<Vec<std::path::PathBuf>> = Mutex::new(Vec::new());

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
                let _no_more = CREATING.lock().unwrap_or_else(|p| p.into_inner());
                let names: Vec<String> = LIVE.lock().map(|l| l.clone()).unwrap_or_default();
                for n in &names {
                    remove(n);
                }
                let dirs: Vec<std::path::PathBuf> =
                    OUT_DIRS.lock().map(|l| l.clone()).unwrap_or_default();
                for d in &dirs {
                    let _ = std::fs::remove_dir_all(d);
                }
                eprintln!(
                    "stalltrace lab: interrupted; removed {} network namespace{}{}",
                    names.len(),
                    if names.len() == 1 { "" } else { "s" },
                    if dirs.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " and the unfinished {}",
                            dirs.iter()
                                .map(|d| d.display().to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                );
                // 130 after SIGINT, 143 after SIGTERM, as a shell reports.
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
        let making = CREATING.lock().unwrap_or_else(|p| p.into_inner());
        // Registered first, so an interrupt during creation still removes it.
        LIVE.lock().expect("registry").push(name.clone());
        let ns = Netns { name };
        run(Command::new("ip").args(["netns", "add", &ns.name]), None)?;
        drop(making);
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

    /// Gives the namespace its own `/etc/<file>` (resolv.conf, hosts), as
    /// `ip netns exec` mounts it for the programs started there.
    pub fn etc(&self, file: &str, text: &str) -> Result<(), LabError> {
        let dir = format!("/etc/netns/{}", self.name);
        std::fs::create_dir_all(&dir).map_err(io_err(format!("creating {dir}")))?;
        std::fs::write(format!("{dir}/{file}"), text)
            .map_err(io_err(format!("writing {dir}/{file}")))
    }

    /// Starts a program in the namespace (through `ip netns exec`, so it
    /// sees the namespace's `/etc` files), its output into `log`. It is
    /// killed when the namespace goes, at the latest.
    pub fn launch(
        &self,
        program: &str,
        args: &[&str],
        log: &std::path::Path,
    ) -> Result<Launched, LabError> {
        let out =
            std::fs::File::create(log).map_err(io_err(format!("creating {}", log.display())))?;
        let err = out.try_clone().map_err(io_err("log"))?;
        let child = Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(io_err(format!("starting {program}")))?;
        Ok(Launched { child })
    }

    /// Runs a program in the namespace to its end (through `ip netns
    /// exec`), with a time limit; returns its exit status and output.
    pub fn run_program(
        &self,
        program: &str,
        args: &[&str],
        limit: std::time::Duration,
    ) -> Result<(Option<i32>, String), LabError> {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(io_err(format!("starting {program}")))?;
        let end = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().map_err(io_err("waiting"))? {
                let o = child.wait_with_output().map_err(io_err("output"))?;
                let mut text = String::from_utf8_lossy(&o.stdout).to_string();
                text.push_str(&String::from_utf8_lossy(&o.stderr));
                return Ok((status.code(), text));
            }
            if std::time::Instant::now() >= end {
                let _ = child.kill();
                let _ = child.wait();
                return Ok((None, format!("{program}: killed after {limit:?}")));
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
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

/// Kills what runs in the namespace (never this process), deletes it, and
/// removes the files it was given.
fn remove(name: &str) {
    let me = std::process::id().to_string();
    if let Ok(o) = Command::new("ip").args(["netns", "pids", name]).output() {
        for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
            if pid != me {
                if let Ok(p) = pid.parse::<i32>() {
                    unsafe { libc::kill(p, libc::SIGKILL) };
                }
            }
        }
    }
    let _ = Command::new("ip")
        .args(["netns", "delete", name])
        .stderr(Stdio::null())
        .status();
    let _ = std::fs::remove_dir_all(format!("/etc/netns/{name}"));
}

impl Drop for Netns {
    fn drop(&mut self) {
        remove(&self.name);
        if let Ok(mut l) = LIVE.lock() {
            l.retain(|n| n != &self.name);
        }
    }
}

/// A program started in a namespace; killed when dropped.
pub struct Launched {
    child: std::process::Child,
}

impl Launched {
    /// It is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Launched {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Namespaces this process still holds (for tests of the cleanup).
pub fn live_namespaces() -> Vec<String> {
    LIVE.lock().map(|l| l.clone()).unwrap_or_default()
}

/// A run's output folder. Made by the run (it did not exist), it is
/// removed again when the run is interrupted, and when the run ends
/// without [`OutDir::keep`] while still empty; a folder that existed is
/// left as it was.
pub struct OutDir {
    path: std::path::PathBuf,
    created: bool,
}

impl OutDir {
    pub fn create(path: &std::path::Path) -> Result<OutDir, LabError> {
        let created = !path.exists();
        std::fs::create_dir_all(path).map_err(io_err(format!("creating {}", path.display())))?;
        if created {
            OUT_DIRS.lock().expect("registry").push(path.to_path_buf());
        }
        Ok(OutDir {
            path: path.to_path_buf(),
            created,
        })
    }

    /// The run finished writing: the folder stays.
    pub fn keep(mut self) {
        self.forget();
        self.created = false;
    }

    fn forget(&self) {
        if let Ok(mut l) = OUT_DIRS.lock() {
            l.retain(|d| d != &self.path);
        }
    }
}

impl Drop for OutDir {
    fn drop(&mut self) {
        self.forget();
        // Ended early (an error): what it holds (a daemon's log) may tell
        // why, so only an empty folder goes.
        if self.created {
            let _ = std::fs::remove_dir(&self.path);
        }
    }
}

/// Namespaces left by runs that were killed (`kill -9`, a crash): named
/// `st<pid>-...` after a process that no longer runs. Deletes each, with
/// the programs still running in it and its `/etc/netns` files, and
/// returns their names.
pub fn remove_stale() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    // Files of namespaces already gone.
    let etc: Vec<String> = std::fs::read_dir("/etc/netns")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    for e in etc {
        if !names.contains(&e) {
            names.push(e);
        }
    }
    names.sort();
    let mut removed = Vec::new();
    for name in names {
        let Some(pid) = stale_owner(&name) else {
            continue;
        };
        // kill(pid, 0): ESRCH means no such process.
        let gone = unsafe { libc::kill(pid, 0) } == -1
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        // Looked at again now that its owner is known dead: one that was
        // exiting may have removed it itself meanwhile.
        let still = std::path::Path::new(&format!("/run/netns/{name}")).exists()
            || std::path::Path::new(&format!("/etc/netns/{name}")).exists();
        if gone && still {
            remove(&name);
            removed.push(name);
        }
    }
    removed
}

/// The process a lab namespace name `st<pid>-<n>-<role>` belongs to.
fn stale_owner(name: &str) -> Option<i32> {
    let rest = name.strip_prefix("st")?;
    let (pid, tail) = rest.split_once('-')?;
    let (n, role) = tail.split_once('-')?;
    (n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() && !role.is_empty())
        .then(|| pid.parse().ok())
        .flatten()
        .filter(|&p: &i32| p > 0)
}

#[cfg(test)]
mod tests {
    use super::stale_owner;

    #[test]
    fn only_the_labs_own_names_are_taken_for_stale() {
        assert_eq!(stale_owner("st4242-0-client"), Some(4242));
        assert_eq!(stale_owner("st4242-12-fw"), Some(4242));
        assert_eq!(stale_owner("steam-0-x"), None);
        assert_eq!(stale_owner("st4242"), None);
        assert_eq!(stale_owner("st4242-x-client"), None);
        assert_eq!(stale_owner("myns"), None);
    }
}
